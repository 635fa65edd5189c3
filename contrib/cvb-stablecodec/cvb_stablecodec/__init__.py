"""cvb plugin: StableCodec (one-step diffusion extreme image compression) from the user's checkout."""
