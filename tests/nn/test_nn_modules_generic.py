"""Generic tests over the module registry (tests/nn/moduleinfo.py)."""
from __future__ import annotations

import numpy as np
import pytest
from moduleinfo import MODULES, as_inputs, functional_call

import graphgrad as gg
from graphgrad.testing import gradcheck, gradgradcheck

IDS = [info.id for info in MODULES]
MODES = ["train", "eval"]


def _has_something_to_differentiate(info) -> bool:
    """A registry entry with a float input or a parameter, and no gradient cut on purpose."""
    float_input = any(a.dtype.kind == "f" for a in info.sample_inputs())
    return info.gradcheck and (float_input or any(True for _ in info.make().parameters()))


GRADCHECKED = [info for info in MODULES if _has_something_to_differentiate(info)]
# Random layers in training mode cannot match torch draw for draw (their statistics are
# tested in test_nn_layers.py); every other (layer, mode) pair is compared.
TORCH_CASES = [pytest.param(info, mode, id=f"{info.id}-{mode}")
               for info in MODULES for mode in MODES if not (info.random and mode == "train")]


def _run(info, module, inputs):
    if info.random:
        gg.manual_seed(0)
    return module(*inputs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("info", GRADCHECKED, ids=[info.id for info in GRADCHECKED])
def test_gradcheck_and_gradgradcheck(info, mode):
    module = info.make().double().train(mode == "train")
    names = [name for name, _ in module.named_parameters()]
    params = [p for _, p in module.named_parameters()]
    inputs = as_inputs(info, info.sample_inputs())
    n = len(inputs)

    def fn(*args):
        if info.random:
            gg.manual_seed(0)
        return functional_call(module, dict(zip(names, args[n:], strict=True)), list(args[:n]))

    assert gradcheck(fn, inputs + params)
    assert gradgradcheck(fn, inputs + params)  # layers are compositions: any order works


@pytest.mark.parametrize("info", MODULES, ids=IDS)
def test_state_dict_round_trip(info):
    gg.manual_seed(0)
    source = info.make()
    gg.manual_seed(1)
    target = info.make()
    # Make the buffers differ too: one training step on the source.
    inputs = as_inputs(info, info.sample_inputs(), requires_grad=False)
    _run(info, source, inputs)
    state = {key: value.numpy().copy() for key, value in source.state_dict().items()}
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key])
    source.eval()
    target.eval()
    out_s, out_t = _run(info, source, inputs), _run(info, target, inputs)
    np.testing.assert_array_equal(out_s.numpy(), out_t.numpy())


@pytest.mark.parametrize("info", MODULES, ids=IDS)
def test_state_dict_keys_and_shapes_match_torch(info):
    pytest.importorskip("torch")
    ours = {k: v.shape for k, v in info.make().state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in info.make_torch().state_dict().items()}
    assert list(ours) == list(theirs)
    assert ours == theirs
    ours_p = [(k, p.shape) for k, p in info.make().named_parameters()]
    theirs_p = [(k, tuple(p.shape)) for k, p in info.make_torch().named_parameters()]
    assert ours_p == theirs_p


@pytest.mark.parametrize("info", MODULES, ids=IDS)
def test_train_eval_behaviour(info):
    module = info.make().double()
    assert module.training
    inputs = as_inputs(info, info.sample_inputs(), requires_grad=False)
    module.eval()
    assert all(not m.training for m in module.modules())
    before = {k: v.numpy().copy() for k, v in module.state_dict().items()}
    first = module(*inputs).numpy().copy()
    second = module(*inputs).numpy()
    np.testing.assert_array_equal(first, second)  # evaluation is deterministic...
    for key, value in module.state_dict().items():  # ...and changes no state
        np.testing.assert_array_equal(value.numpy(), before[key])
    module.train()
    assert all(m.training for m in module.modules())
    trained = _run(info, module, inputs).numpy()
    if info.train_differs:
        assert not np.allclose(trained, first)
    else:
        np.testing.assert_array_equal(trained, first)


@pytest.mark.parametrize("info", MODULES, ids=IDS)
def test_repr_matches_torch(info):
    pytest.importorskip("torch")
    assert repr(info.make()) == repr(info.make_torch())


@pytest.mark.parametrize("info", [i for i in MODULES if i.bad_inputs],
                         ids=[i.id for i in MODULES if i.bad_inputs])
def test_bad_input_shape_names_layer_and_shapes(info):
    module = info.make()
    good = as_inputs(info, info.sample_inputs(), requires_grad=False)
    for shape in info.bad_inputs:
        bad = gg.randn(*shape)
        with pytest.raises(ValueError) as err:
            module(bad, *good[1:])
        message = str(err.value)
        assert info.cls in message and str(shape) in message, message


@pytest.mark.parametrize(("info", "mode"), TORCH_CASES)
def test_outputs_and_gradients_match_torch(info, mode):
    torch = pytest.importorskip("torch")
    theirs = info.make_torch().double().train(mode == "train")
    ours = info.make().double().train(mode == "train")
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    for step in range(3):  # several steps: BatchNorm's running statistics accumulate
        arrays = info.sample_inputs(seed=step)
        t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        o_in = as_inputs(info, arrays)
        t_out, o_out = theirs(*t_in), ours(*o_in)
        np.testing.assert_allclose(o_out.numpy(), t_out.detach().numpy(), atol=info.atol)
        upstream = rng.standard_normal(t_out.shape)
        t_out.backward(torch.tensor(upstream))
        o_out.backward(gg.tensor(upstream))
        for t, o in zip(t_in, o_in, strict=True):
            if o.requires_grad:
                np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), atol=info.atol)
        t_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(),
                                       atol=info.atol, err_msg=name)
        t_state = theirs.state_dict()
        for key, value in ours.state_dict().items():
            np.testing.assert_allclose(value.numpy(), t_state[key].numpy(), atol=info.atol,
                                       err_msg=key)
