"""The model protocol (issue 12): any model with the two maps of the mean iteration runs through the
analysis, seen through flat rows; the paper's VAE passes unchanged; a model that does not fit is
refused with one line that says why."""
import pytest
import torch

import vaedyn
from example_models import RenamedMLP, TinyConvVAE, renamed_mlp, tiny_conv_vae
from vaedyn.analysis.inference import repeated_inference
from vaedyn.protocol import FlatModel, InferenceModel, ProtocolError, as_inference_model


def test_the_papers_vae_passes_through_unchanged():
    vae = vaedyn.VAE(n_features=64, nz=3, hidden=8)
    assert isinstance(vae, InferenceModel) and not isinstance(RenamedMLP(), InferenceModel)
    assert as_inference_model(vae, n_features=64) is vae
    adapted = as_inference_model(tiny_conv_vae())
    assert as_inference_model(adapted, n_features=784) is adapted      # adapting twice changes nothing
    assert as_inference_model(adapted, input_shape=[1, 28, 28]) is adapted


class ShapeRecordingConvVAE(TinyConvVAE):
    """The conv VAE, noting the shape of every input its encoder sees."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def encode_mean(self, x):
        self.seen.add(tuple(x.shape[1:]))
        return super().encode_mean(x)


def test_an_image_model_is_seen_through_flat_rows():
    torch.manual_seed(0)
    inner = ShapeRecordingConvVAE()
    model = as_inference_model(inner, n_features=784)
    assert isinstance(model, FlatModel) and (model.n_features, model.nz, model.image_shape) == (784, 8, (1, 28, 28))
    x = torch.rand(5, 784)
    with torch.no_grad():
        z = model.encode_mean(x)
        assert torch.equal(z, inner.encode_mean(x.reshape(5, 1, 28, 28)))
        assert torch.equal(model.decode_mean(z), inner.decode_mean(z).reshape(5, 784))
        assert model.decode_mean(z[0]).shape == (784,)                # one latent vector, as fig. 2 decodes them
        mu, logvar = model.encode(x)
        assert torch.equal(mu, z) and logvar.shape == (5, 8)
    model.train()
    assert inner.training                                              # train/eval reach the wrapped model
    run = repeated_inference(model, x, steps=3, record_x=True)
    assert inner.training and run.z.shape == (4, 5, 8) and run.x.shape == (4, 5, 784)
    with torch.no_grad():
        inner.eval()
        expected = inner.decode_mean(inner.encode_mean(x.reshape(5, 1, 28, 28)))
    assert torch.allclose(run.x[1], expected.reshape(5, 784))
    assert inner.seen == {(1, 28, 28)}                                 # never a flat row


@pytest.mark.parametrize("maps", [{"encode_mean": "embed", "decode_mean": "reconstruct"}, "callables"])
def test_renamed_maps_are_adapted_by_callables_or_names(maps, digits):
    model = renamed_mlp()
    with pytest.raises(ProtocolError, match="RenamedMLP has no encode_mean and no decode_mean.*--encode-mean NAME"):
        as_inference_model(model, n_features=64)
    maps = {"encode_mean": model.embed, "decode_mean": model.reconstruct} if maps == "callables" else maps
    adapted = as_inference_model(model, n_features=64, **maps)
    assert (adapted.n_features, adapted.nz) == (64, 3)                 # N_z found by the probe
    train, _ = digits
    concepts = vaedyn.concept_set(adapted, train.x, train.y)
    with torch.no_grad():
        assert torch.equal(concepts.memory, model.embed(train.x))
    with pytest.raises(ProtocolError, match="provides no encode"):
        adapted.encode(train.x[:2])


def _raise(x):
    raise RuntimeError("boom")


@pytest.mark.parametrize("make, options, fragment", [
    (tiny_conv_vae, {"n_features": 64},
     r"input shape \(1, 28, 28\) holds 784 values but the dataset's images have 64 \(e.g. \(1, 8, 8\)\)"),
    (tiny_conv_vae, {"input_shape": (784,)}, r"input_shape=\(784,\) is not allowed; TinyConvVAE declares"),
    (renamed_mlp, {"encode_mean": "embed", "decode_mean": "reconstruct"}, "the input shape of RenamedMLP is unknown"),
    (renamed_mlp, {"n_features": 64, "encode_mean": "nope", "decode_mean": "reconstruct"},
     "RenamedMLP has no method 'nope'"),
    (renamed_mlp, {"n_features": 64, "encode_mean": _raise, "decode_mean": "reconstruct"},
     r"encode_mean failed on a probe batch of shape \(2, 64\): RuntimeError: boom"),
    (renamed_mlp, {"n_features": 64, "encode_mean": lambda x: x.sum(), "decode_mean": "reconstruct"},
     r"encode_mean returned a tensor of shape \(\) for a batch of 2 inputs"),
    (renamed_mlp, {"n_features": 64, "encode_mean": "embed", "decode_mean": lambda z: z},
     r"decode_mean returned a tensor of shape \(2, 3\) for 2 latent rows; it must return \(2, 64\)"),
    (renamed_mlp, {"n_features": 64, "encode_mean": "embed", "decode_mean": "reconstruct", "encode": "embed"},
     "encode returned a tensor of shape"),
    (tiny_conv_vae, {"input_shape": (1, 0, 28)}, r"input_shape=\(1, 0, 28\) is not allowed"),
])
def test_a_model_that_does_not_fit_is_refused_with_one_line(make, options, fragment):
    with pytest.raises(ProtocolError, match=fragment) as error:
        as_inference_model(make(), **options)
    assert "\n" not in str(error.value) and isinstance(error.value, vaedyn.ConfigError)
