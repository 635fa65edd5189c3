"""cvb plugin: MS-ILLM from Meta's neuralcompression package, with its real entropy coder."""
