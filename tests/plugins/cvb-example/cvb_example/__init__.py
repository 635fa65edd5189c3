"""Example third-party cvb plugin (the worked example of CONTRIBUTING.md)."""
