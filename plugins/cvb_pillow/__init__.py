"""Built-in codecs on Pillow and its plugins: JPEG, WebP, AVIF, JPEG 2000, HEIF (HEVC), JPEG XL."""
