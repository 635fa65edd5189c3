"""cvb plugin: BPG still images with Fabrice Bellard's bpgenc and bpgdec."""
