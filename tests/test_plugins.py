"""Plugin discovery: entry points one by one, failures isolated, conflicts named."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cvb.cli import cli
from cvb.errors import PluginConflictError, UnknownNameError, UsageError
from cvb.specs import CodecSpec, MetricSpec
from cvb.testing import FakeCodec

from conftest import make_plugin


def codec_plugin(name, codec_name="fake"):
    return make_plugin(name, register_codecs=lambda register: register(
        CodecSpec(name=codec_name, factory=FakeCodec, levels=("1", "2"))))


def test_registers_and_creates(registry_of):
    reg = registry_of(codec_plugin("one"))
    assert reg.names("codec") == ["fake"]
    codec = reg.create("codec", "fake")
    assert isinstance(codec, FakeCodec)
    assert reg.plugins["one"].provides == {"codec": ["fake"]}
    assert reg.plugins["one"].hooks == ["register_codecs"]


def test_unknown_name_lists_known(registry_of):
    reg = registry_of(codec_plugin("one"))
    with pytest.raises(UnknownNameError) as err:
        reg.create("codec", "jpg")
    assert "fake" in str(err.value) and "jpg" in str(err.value)
    assert isinstance(err.value, UsageError)


def test_conflict_names_both_plugins_and_keeps_others(registry_of):
    other = make_plugin("three", register_metrics=lambda register: register(
        MetricSpec(name="m", factory="x:y")))
    reg = registry_of(codec_plugin("one"), codec_plugin("two"), other)
    with pytest.raises(PluginConflictError) as err:
        reg.spec("codec", "fake")
    assert "one" in str(err.value) and "two" in str(err.value)
    assert reg.names("metric") == ["m"]  # unrelated plugin unaffected
    assert ("codec", "fake") in reg.conflicts()


def test_broken_hook_is_reported_not_fatal(registry_of):
    def boom(register):
        raise RuntimeError("kaput")

    reg = registry_of(make_plugin("bad", register_codecs=boom), codec_plugin("good"))
    assert "kaput" in reg.plugins["bad"].error
    assert reg.names("codec") == ["fake"]


def test_wrong_spec_type_is_an_error(registry_of):
    reg = registry_of(make_plugin("bad", register_codecs=lambda register: register(
        MetricSpec(name="m", factory="x:y"))))
    assert "CodecSpec" in reg.plugins["bad"].error
    assert reg.names("metric") == []


def test_arg_rejected_when_spec_takes_none(registry_of):
    reg = registry_of(codec_plugin("one"))
    with pytest.raises(UsageError, match="takes no"):
        reg.create("codec", "fake:oops")


def test_status_check_blocks_create(registry_of):
    from cvb.errors import UnavailableError

    reg = registry_of(make_plugin("p", register_codecs=lambda register: register(
        CodecSpec(name="needs-bin", factory=FakeCodec, check=lambda: "binary foo not found"))))
    with pytest.raises(UnavailableError, match="binary foo not found"):
        reg.create("codec", "needs-bin")


def test_failed_entry_point_import_is_reported(monkeypatch):
    """A broken entry point must not take down the others."""
    from importlib import metadata

    from cvb import plugins

    good = metadata.EntryPoint(name="good", value="cvb.testing", group="cvb")
    bad = metadata.EntryPoint(name="bad", value="no_such_module_xyz.plugin", group="cvb")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [bad, good])
    monkeypatch.delenv("CVB_LOAD_PLUGINS", raising=False)
    reg = plugins.Registry()
    reg.load_entry_points()
    assert "No module named 'no_such_module_xyz'" in reg.plugins["bad"].error
    assert reg.plugins["good"].error is None


def test_env_filter_empty_loads_nothing(monkeypatch):
    from cvb import plugins

    monkeypatch.setenv("CVB_LOAD_PLUGINS", "")
    reg = plugins.Registry()
    reg.load_entry_points()
    assert reg.plugins == {}


def test_env_filter_by_distribution(monkeypatch):
    from cvb import plugins

    monkeypatch.setenv("CVB_LOAD_PLUGINS", "no-such-dist")
    reg = plugins.Registry()
    reg.load_entry_points()
    assert reg.plugins == {}
    monkeypatch.setenv("CVB_LOAD_PLUGINS", "cvb")
    reg = plugins.Registry()
    reg.load_entry_points()
    assert "pillow" in reg.plugins  # the built-ins come from the `cvb` distribution


def test_cli_plugins_json_and_list(registry_of):
    registry_of(codec_plugin("one"))
    res = CliRunner().invoke(cli, ["plugins", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["plugins"][0]["provides"] == {"codec": ["fake"]}
    res = CliRunner().invoke(cli, ["list", "codecs", "--json"])
    listed = json.loads(res.output)
    assert listed["cvb_json"] == 1  # every --json shape is versioned
    rows = listed["codecs"]
    assert rows[0]["name"] == "fake" and rows[0]["usable"] and rows[0]["levels"] == ["1", "2"]


def test_cli_list_shows_unusable_reason(registry_of):
    registry_of(make_plugin("p", register_codecs=lambda register: register(
        CodecSpec(name="x", factory=FakeCodec, check=lambda: "binary x265 not found"))))
    res = CliRunner().invoke(cli, ["list", "codecs"])
    assert res.exit_code == 0
    assert "binary x265 not found" in res.output


def test_conflicting_name_is_listed_once_as_unusable(registry_of):
    registry_of(codec_plugin("one"), codec_plugin("two"))
    rows = json.loads(CliRunner().invoke(cli, ["list", "codecs", "--json"]).output)["codecs"]
    fake = [r for r in rows if r["name"] == "fake"]
    assert len(fake) == 1 and not fake[0]["usable"]
    assert "one" in fake[0]["status"] and "two" in fake[0]["status"]
    data = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    assert {p["name"]: p["provides"] for p in data["plugins"]} == {"one": {"codec": ["fake"]},
                                                                   "two": {"codec": ["fake"]}}
    assert data["conflicts"] == [{"category": "codec", "name": "fake", "plugins": ["one", "two"]}]


def test_misspelt_hook_is_reported(registry_of):
    reg = registry_of(make_plugin("typo", register_codec=lambda register: None), codec_plugin("good"))
    assert "register_codec" in reg.plugins["typo"].error
    assert "register_codecs" in reg.plugins["typo"].error  # names the right spelling
    assert reg.plugins["good"].error is None and reg.names("codec") == ["fake"]


def test_fake_codec_refuses_a_level_it_does_not_have():
    from PIL import Image

    from cvb.errors import UnknownLevelError

    with pytest.raises(UnknownLevelError, match="1..8"):
        FakeCodec().encode(Image.new("RGB", (4, 4)), "9")
