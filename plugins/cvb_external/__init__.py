"""Built-in codecs that run external binaries (ffmpeg's libx265 and libaom) on cvb.codecs.external."""
