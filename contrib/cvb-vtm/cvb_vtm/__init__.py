"""cvb plugin: VVC intra coding with the VTM reference encoder and decoder."""
