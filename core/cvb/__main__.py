"""``python -m cvb`` (and ``accelerate launch -m cvb adapt ...``) runs the command line."""

from cvb.cli import main

if __name__ == "__main__":
    main()
