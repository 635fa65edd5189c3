import argparse


def parse_args_testing():
    parser = argparse.ArgumentParser()
    for flag in ("sd_path", "elic_path", "codec_path", "img_path", "rec_path", "bin_path"):
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--color_fix", action="store_true")
    return parser.parse_args()
