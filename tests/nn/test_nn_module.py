"""Module mechanics: registration, traversal, state_dict, hooks, modes, dtype, containers."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4))
        self.register_buffer("steps", gg.zeros(()))
        self.register_buffer("cache", gg.zeros(2), persistent=False)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, x):
        return F.relu(self.bn(self.fc(x))) * self.scale


# ----------------------------------------------------------------- registration
def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(np.zeros((2, 3)))
    assert isinstance(p, gg.Tensor) and p.requires_grad and p.shape == (2, 3)
    assert p.dtype == np.float64
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert type(p * 2) is gg.Tensor
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    with pytest.raises(TypeError):
        nn.Parameter(np.zeros(2, dtype=np.int64))


def test_registration_order_and_names():
    block = Block()
    assert [name for name, _ in block.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias"]
    assert [name for name, _ in block.named_buffers()] == [
        "steps", "cache", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [name for name, _ in block.named_children()] == ["fc", "bn"]
    assert [name for name, _ in block.named_modules()] == ["", "fc", "bn"]
    assert list(block.state_dict()) == [
        "scale", "steps", "fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean",
        "bn.running_var", "bn.num_batches_tracked"]  # the non-persistent buffer is left out
    assert block.fc is block._modules["fc"] and block.scale is block._parameters["scale"]


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    tied = nn.Module()
    tied.a = nn.Linear(2, 2)
    tied.b = nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    assert [n for n, _ in tied.named_parameters()] == ["a.weight", "a.bias", "b.bias"]


def test_assignment_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="nn.Parameter or None"):
        m.weight = gg.zeros(3, 2)
    m.bias = None
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    m.extra = 5  # plain attributes are not registered
    assert m.extra == 5 and "extra" not in m.state_dict()
    del m.weight
    assert "weight" not in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = m.missing

    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Forgot()
    with pytest.raises(KeyError):
        nn.Module().register_buffer("a.b", gg.zeros(1))
    with pytest.raises(TypeError):
        nn.Module().register_buffer("a", np.zeros(1))


def test_buffer_reassignment_keeps_it_a_buffer():
    block = Block()
    block.steps = gg.ones(())
    assert "steps" in dict(block.named_buffers())
    assert block.state_dict()["steps"].item() == 1.0


# ----------------------------------------------------------------- state dict
def test_state_dict_keys_of_a_small_model_equal_pytorchs():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(8, 3))
    assert list(model.state_dict()) == [
        "0.weight", "0.bias",
        "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
        "4.weight", "4.bias",
    ]
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("norm", nn.LayerNorm(2))]))
    assert list(named.state_dict()) == ["hidden.weight", "hidden.bias", "norm.weight",
                                        "norm.bias"]


def test_state_dict_values_are_detached_and_share_memory():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and type(sd["weight"]) is gg.Tensor
    assert np.shares_memory(sd["weight"].numpy(), m.weight.numpy())
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_copies_in_place_and_casts():
    m = nn.Linear(2, 3)
    weight = m.weight
    values = {"weight": np.arange(6.0).reshape(3, 2), "bias": [1, 2, 3]}
    assert repr(m.load_state_dict(values)) == "<All keys matched successfully>"
    assert m.weight is weight and m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.numpy(), values["weight"])
    np.testing.assert_array_equal(m.bias.numpy(), [1, 2, 3])


def test_load_state_dict_strict_names_every_offending_key():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    del state["0.bias"], state["1.running_var"]
    state["0.weight"] = np.zeros((4, 2))
    state["2.weight"] = np.zeros(1)
    before = model[0].weight.numpy().copy()
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(state)
    message = str(err.value)
    for key in ("0.bias", "1.running_var", "2.weight", "0.weight"):
        assert key in message, key
    assert "Missing key(s)" in message and "Unexpected key(s)" in message
    assert "(4, 2)" in message and "(3, 2)" in message
    np.testing.assert_array_equal(model[0].weight.numpy(), before)  # nothing half-loaded


def test_load_state_dict_non_strict_returns_the_keys():
    model = nn.Sequential(nn.Linear(2, 3))
    result = model.load_state_dict({"0.weight": np.ones((3, 2)), "extra": np.ones(1)},
                                   strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra"]
    missing, unexpected = result
    assert missing == ["0.bias"]
    np.testing.assert_array_equal(model[0].weight.numpy(), np.ones((3, 2)))
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        model.load_state_dict({"0.weight": np.ones((2, 2))}, strict=False)


def test_load_state_dict_accepts_a_checkpoint_without_num_batches_tracked():
    """As PyTorch (older checkpoints lack it): the batch norm keeps its own count; every
    other missing key still raises."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model[1].num_batches_tracked.fill_(7)
    state = {k: v.numpy() + 1 for k, v in model.state_dict().items()
             if k != "1.num_batches_tracked"}
    assert model.load_state_dict(state).missing_keys == []
    assert model[1].num_batches_tracked.item() == 7
    np.testing.assert_array_equal(model[1].running_var.numpy(), state["1.running_var"])
    del state["1.running_mean"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "1.running_mean"\.'):
        model.load_state_dict(state)


def test_load_state_dict_invalidates_graphs_that_saved_the_old_values():
    m = nn.Linear(2, 1)
    x = gg.randn(3, 2, requires_grad=True)
    y = m(x).sum()
    m.load_state_dict({k: v.numpy() * 2 for k, v in m.state_dict().items()})
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# ------------------------------------------------------------ modes and grads
def test_train_eval_recurse_and_return_self():
    block = Block()
    assert block.eval() is block and not block.bn.training
    assert block.train() is block and block.bn.training
    with pytest.raises(ValueError):
        block.train("no")


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m(gg.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not m(gg.randn(4, 3)).requires_grad
    m.requires_grad_()
    assert m.weight.requires_grad


def test_apply_visits_children_first():
    seen = []
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert model.apply(lambda mod: seen.append(type(mod).__name__)) is model
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]

    def init_weights(mod):
        if isinstance(mod, nn.Linear):
            nn.init.ones_(mod.weight)

    model.apply(init_weights)
    assert np.all(model[0].weight.numpy() == 1)


def test_to_double_and_float_keep_parameter_identity():
    block = Block()
    weight = block.fc.weight
    block(gg.randn(5, 3)).sum().backward()
    block.double()
    assert block.fc.weight is weight and weight.dtype == np.float64
    assert weight.grad.dtype == np.float64
    assert block.bn.running_mean.dtype == np.float64
    assert block.bn.num_batches_tracked.dtype == np.int64  # integers are left alone
    assert block(gg.randn(5, 3, dtype=np.float64)).dtype == np.float64
    assert block.to(np.float32) is block and weight.dtype == np.float32
    assert block.to("cpu") is block
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        block.to("cuda")


# ---------------------------------------------------------------------- hooks
def test_forward_hooks_see_and_replace_inputs_and_outputs():
    m = nn.Linear(2, 2)
    calls = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    post = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    out = m(gg.randn(3, 2))
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(m.bias.numpy() + 1, (3, 2)))
    assert calls == [(3, 2)]
    pre.remove()
    post.remove()
    x = gg.randn(3, 2)
    np.testing.assert_allclose(m(x).numpy(), F.linear(x, m.weight, m.bias).numpy())
    with m.register_forward_hook(lambda mod, args, out: out * 0):
        assert np.all(m(x).numpy() == 0)
    assert not np.all(m(x).numpy() == 0)


def test_forward_hook_collects_activations():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    acts = {}
    model[1].register_forward_hook(lambda mod, args, out: acts.__setitem__("relu", out))
    model(gg.randn(5, 3))
    assert acts["relu"].shape == (5, 4) and np.all(acts["relu"].numpy() >= 0)


# ----------------------------------------------------------------------- repr
def test_nested_repr_like_pytorch():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")"
    )
    assert repr(Block()).startswith("Block(\n  (fc): Linear(")


def test_nested_repr_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.ModuleDict({"a": nn.ModuleList([nn.Linear(2, 2), nn.BatchNorm2d(3)]),
                          "b": nn.Sequential(nn.Flatten(), nn.GELU())})
    theirs = torch.nn.ModuleDict({
        "a": torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.BatchNorm2d(3)]),
        "b": torch.nn.Sequential(torch.nn.Flatten(), torch.nn.GELU())})
    assert repr(ours) == repr(theirs)


# ----------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_editing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and model[0] is layers[0] and model[-1] is layers[2]
    assert list(model) == layers
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    assert head(gg.randn(4, 2)).shape == (4, 3)
    model.append(nn.Sigmoid())
    assert len(model) == 4 and isinstance(model[3], nn.Sigmoid)
    del model[1]
    assert [type(m).__name__ for m in model] == ["Linear", "Linear", "Sigmoid"]
    assert list(model._modules) == ["0", "1", "2"]
    model.insert(1, nn.Tanh())
    assert isinstance(model[1], nn.Tanh) and len(model) == 4
    model[0] = nn.Linear(2, 3)
    assert model[0] is not layers[0]
    with pytest.raises(IndexError):
        model[4]


def test_sequential_pop_add_and_repeat_as_pytorch():
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)
    model = nn.Sequential(a, b, c)
    assert model.pop(1) is b and list(model) == [a, c] and list(model._modules) == ["0", "1"]
    joined = model + nn.Sequential(b)
    assert list(joined) == [a, c, b] and list(model) == [a, c]  # a new container
    repeated = 2 * nn.Sequential(a, b)
    assert list(repeated) == [a, b, a, b] and list(repeated._modules) == ["0", "1", "2", "3"]
    assert len(list(repeated.parameters())) == 2  # the repeats share their parameters
    model += nn.Sequential(b)
    assert list(model) == [a, c, b]
    model *= 2
    assert list(model) == [a, c, b] * 2
    with pytest.raises(ValueError, match="Sequential"):
        model + nn.ModuleList([a])
    with pytest.raises(ValueError, match="positive"):
        model * 0
    layers = nn.ModuleList([a, b])
    assert list(layers + [c]) == [a, b, c] and list(layers) == [a, b]
    assert layers.pop(0) is a and list(layers) == [b] and list(layers._modules) == ["0"]


def test_sequential_forward_chains():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    x = gg.randn(5, 2)
    np.testing.assert_array_equal(model(x).numpy(), F.relu(model[0](x)).numpy())


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and isinstance(layers[-1], nn.Tanh)
    assert [k for k, _ in layers.named_children()][:2] == ["0", "1"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert "1.weight" in layers.state_dict()
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3)})
    heads["box"] = nn.Linear(4, 2)
    assert list(heads) == ["cls", "box"] and "box" in heads and len(heads) == 2
    assert list(heads.state_dict()) == ["cls.weight", "cls.bias", "box.weight", "box.bias"]
    assert isinstance(heads.pop("cls"), nn.Linear) and list(heads.keys()) == ["box"]


def test_forward_not_defined_raises():
    with pytest.raises(NotImplementedError, match="Module"):
        nn.Module()(gg.zeros(1))


def test_get_submodule():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2)))
    assert model.get_submodule("0.0") is model[0][0]
    with pytest.raises(AttributeError):
        model.get_submodule("0.1")


def test_deepcopy_and_pickle_give_independent_models():
    import copy
    import pickle

    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(gg.randn(4, 3))
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(clone[0].weight) is nn.Parameter and clone[0].weight.requires_grad
        assert not np.shares_memory(clone[0].weight.numpy(), model[0].weight.numpy())
        for (key, a), (_, b) in zip(clone.state_dict().items(), model.state_dict().items(),
                                    strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=key)
