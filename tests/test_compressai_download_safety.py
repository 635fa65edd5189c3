"""Downloaded CompressAI weights are read with ``weights_only=True``, like pre-placed ones: a
weights file that carries code is refused, never run."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_downloaded_checkpoint_with_code_is_refused_not_run(tmp_path, monkeypatch):
    from cvb.errors import UnavailableError
    from cvb.plugins import get_registry
    from cvb_compressai.weights import WeightsFile

    marker = tmp_path / "code-ran"
    evil = tmp_path / "served" / "evil-weights.pth.tar"
    evil.parent.mkdir()
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": _Payload(marker)}, evil)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # nothing pre-placed there
    codec = get_registry().create("codec", "bmshj2018-factorized", check=False)
    # the zoo's URL replaced by a local one: torch.hub "downloads" file:// URLs the same way
    monkeypatch.setattr(codec, "weights_file",
                        lambda quality, checkpoints=None: WeightsFile(checkpoints / evil.name, evil.as_uri()))
    with pytest.raises(UnavailableError, match="bmshj2018-factorized"):
        codec.model(1)
    assert not marker.exists(), "unpickling the downloaded weights ran code"
