"""cvb plugin: HEVC intra coding with the HM reference encoder and decoder."""
