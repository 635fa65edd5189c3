"""Entry point of the test plugin (light: factories are named, not imported)."""

from cvb import hookimpl
from cvb.specs import CodecSpec, MetricSpec, TaskSpec, VLMSpec


@hookimpl
def register_codecs(register):
    register(CodecSpec(name="fake", factory="cvb_fakes.components:CountingCodec", kind="traditional",
                       levels=("1", "2", "4", "6"), summary="counting fake codec (fails on a magenta pixel)"))
    register(CodecSpec(name="liar", factory="cvb_fakes.components:LyingCodec", kind="traditional",
                       levels=("4",), summary="fake codec returning what the protocol forbids",
                       options={"lie": "decode-none, encode-str or decode-size"}))


@hookimpl
def register_vlms(register):
    register(VLMSpec(name="scripted", factory="cvb_fakes.components:TextureVLM", kind="fake",
                     summary="answers 'is it smooth?' from the pixels",
                     options={"batch_size": "queries per call", "delay": "seconds slept per call",
                              "fail_on": "sample-id substring answered with an error",
                              "raise_on": "sample-id substring that makes answer() raise",
                              "mode": "generate or logits (only recorded)", "device": "ignored",
                              "str_on": "sample-id substring answered with a plain str (protocol bug)"}))


@hookimpl
def register_tasks(register):
    register(TaskSpec(name="toy", factory="cvb_fakes.components:ToyTask", arg="folder of img*_smooth|textured.png",
                      summary="two yes/no questions per image", options={"questions": "questions per image (default 2)",
                                               "broken_score": "true: score() raises",
                                               "inline": "true: images as encoded bytes, not paths"}))


@hookimpl
def register_metrics(register):
    register(MetricSpec(name="mse", factory="cvb_fakes.components:MSE", higher_is_better=False,
                        summary="mean squared error over RGB", options={"scale": "multiply the value",
                                                                          "broken": "true: measure returns None"}))
