"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

    Attention(Q, K, V) = softmax(Q K^T * scale + M) V,     scale = 1 / sqrt(E) by default

with M an additive mask (0 where a query may attend to a key, -inf where it may
not).  Composed of matmul, softmax and elementwise operations, so its gradient
comes from the engine.

Two mask conventions exist, both PyTorch's:
- ``scaled_dot_product_attention``: a boolean mask is True where attention is
  ALLOWED;
- ``multi_head_attention_forward`` / ``nn.MultiheadAttention``: a boolean mask is
  True where the key is MASKED OUT.
A float mask is added to the scores in both.  A query row whose keys are all
masked gets zero attention weights and a zero output (PyTorch gives NaN there).
"""
from __future__ import annotations

import math

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.tensor import tensor_arg, unwrap

from ._utils import array_like
from .dropout import dropout as _dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


# ------------------------------------------------------------------ masks
def _float_mask(name: str, mask, like: Tensor, true_means_allowed: bool):
    """A mask as an additive float mask of ``like``'s dtype on its device (an array, or
    a Tensor when it requires grad).

    Boolean masks become 0 / -inf; float masks pass through.
    """
    if mask is None:
        return None
    if isinstance(mask, Tensor) and mask.requires_grad:
        return mask
    data = array_like(name, mask, like._data)
    if data.dtype == np.bool_:
        blocked = ~data if true_means_allowed else data
        return namespace(data).where(blocked, -np.inf, 0.0).astype(like.dtype)
    if data.dtype.kind != "f":
        raise TypeError(f"{name}: a mask must be bool or float, got dtype {data.dtype}")
    return data.astype(like.dtype, copy=False)


def _check_broadcast(name: str, what: str, mask_shape: tuple, scores_shape: tuple) -> None:
    try:
        shape = np.broadcast_shapes(mask_shape, scores_shape)
    except ValueError:
        shape = None
    if shape != scores_shape:
        raise ValueError(f"{name}: {what} of shape {mask_shape} does not broadcast to the "
                         f"attention scores' shape {scores_shape} (..., L, S)")


def _masked_softmax(scores: Tensor, mask) -> Tensor:
    """softmax(scores + mask) over the last dim, with rows that are entirely -inf
    giving zeros (and a zero gradient) instead of NaN."""
    if mask is None:
        return ag.softmax(scores, -1)
    scores = scores + mask
    blocked = unwrap(mask) == -np.inf
    if not blocked.any():
        return ag.softmax(scores, -1)
    dead = namespace(blocked).broadcast_to(blocked, scores.shape).all(-1, keepdims=True)
    if not dead.any():
        return ag.softmax(scores, -1)
    # Dead rows get finite constant scores (so no NaN), then their weights are zeroed.
    scores = ag.where(dead, 0.0, scores)
    return ag.softmax(scores, -1) * (~dead).astype(scores.dtype)


def _attend(q: Tensor, k: Tensor, v: Tensor, mask, dropout_p: float, scale: float) -> tuple:
    """(softmax(q k^T scale + mask) v, the weights); dropout on the weights."""
    scores = (q * scale) @ k.mT
    weights = _masked_softmax(scores, mask)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, True)
    return weights @ v, weights


# ------------------------------------------------------------------ public
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + M) V over the last two dims (as PyTorch's).

    Shape: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev);
    the leading dims broadcast.  ``scale`` defaults to 1 / sqrt(E).

    ``attn_mask``: a bool mask that is True where a query may attend to a key
    (False entries are excluded), or a float mask added to the scores; it must
    broadcast to (..., L, S).  ``is_causal``: query i attends to keys j <= i
    (the lower-triangular mask, aligned top left; not together with attn_mask).
    ``dropout_p``: dropout on the attention weights (pass 0 in evaluation).

    A query row with every key masked gets zero weights and a zero output,
    not NaN, and no gradient flows through it.
    """
    name = "scaled_dot_product_attention"
    q, k, v = tensor_arg(query), tensor_arg(key), tensor_arg(value)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{name}: query, key and value need at least 2 dims (..., L, E), got "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{name}: query {q.shape} and key {k.shape} must share E, and key and "
                         f"value {v.shape} must share S")
    if enable_gqa:
        raise NotImplementedError(f"{name}: enable_gqa is not supported")
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{name}: the batch dims of query {q.shape}, key {k.shape} and value "
                         f"{v.shape} (all but the last two) do not broadcast") from None
    scores_shape = lead + (q.shape[-2], k.shape[-2])
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{name}: pass either attn_mask or is_causal=True, not both")
        length, source = q.shape[-2], k.shape[-2]
        attn_mask = np.tril(np.ones((length, source), dtype=bool))
    mask = _float_mask(name, attn_mask, q, true_means_allowed=True)
    if mask is not None:
        _check_broadcast(name, "attn_mask", tuple(mask.shape), scores_shape)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return _attend(q, k, v, mask, dropout_p, scale)[0]


def _split_heads(x: Tensor, heads: int, batch_first: bool) -> Tensor:
    """(L, N, E) or (N, L, E) -> (N, heads, L, E / heads)."""
    a, b, e = x.shape
    x = x.reshape(a, b, heads, e // heads)
    return x.permute(0, 2, 1, 3) if batch_first else x.permute(1, 2, 0, 3)


def _merge_heads(x: Tensor, batch_first: bool) -> Tensor:
    """(N, heads, L, D) -> (L, N, heads * D) or (N, L, heads * D)."""
    n, heads, length, d = x.shape
    if batch_first:
        return x.permute(0, 2, 1, 3).reshape(n, length, heads * d)
    return x.permute(2, 0, 1, 3).reshape(length, n, heads * d)


def _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias,
                   q_proj_weight, k_proj_weight, v_proj_weight) -> tuple:
    """q, k, v = x W_q^T + b_q, ...; one matrix product when query is key is value."""
    e = embed_dim
    b = in_proj_bias
    bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
    if in_proj_weight is not None:
        w = in_proj_weight
        if query is key and key is value:
            return ag.split(linear(query, w, b), e, -1)
        wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        if key is value:
            k, v = ag.split(linear(key, w[e:], None if b is None else b[e:]), e, -1)
            return linear(query, wq, bq), k, v
    else:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def _mha_masks(name, key_padding_mask, attn_mask, like: Tensor, n, heads, length, source,
               extra_keys: int):
    """key_padding_mask (N, S) and attn_mask (L, S) / (N * heads, L, S) as one additive
    mask broadcastable to the scores (N, heads, L, S + extra_keys), of ``like``'s dtype
    on its device, or None."""
    mask = None
    if attn_mask is not None:
        am = _float_mask(name, attn_mask, like, true_means_allowed=False)
        if tuple(am.shape) == (length, source):
            am = am.reshape(1, 1, length, source)
        elif tuple(am.shape) == (n * heads, length, source):
            am = am.reshape(n, heads, length, source)
        else:
            raise ValueError(f"{name}: attn_mask of shape {tuple(am.shape)} should be "
                             f"(L, S) = {(length, source)} or (N * num_heads, L, S) = "
                             f"{(n * heads, length, source)}")
        mask = am
    if key_padding_mask is not None:
        kpm = _float_mask(name, key_padding_mask, like, true_means_allowed=False)
        if tuple(kpm.shape) != (n, source):
            raise ValueError(f"{name}: key_padding_mask of shape {tuple(kpm.shape)} should be "
                             f"(N, S) = {(n, source)}")
        kpm = kpm.reshape(n, 1, 1, source)
        mask = kpm if mask is None else mask + kpm
    if mask is not None and extra_keys:  # the added bias_k / zero keys are never masked
        mask = ag.pad(mask, (0, extra_keys)) if isinstance(mask, Tensor) \
            else namespace(mask).pad(mask, [(0, 0)] * 3 + [(0, extra_keys)])
    return mask


def multi_head_attention_forward(
    query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
    in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
    bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
    out_proj_bias: Tensor | None, training: bool = True, key_padding_mask=None,
    need_weights: bool = True, attn_mask=None, use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None, static_k=None, static_v=None,
    average_attn_weights: bool = True, is_causal: bool = False, batch_first: bool = False,
) -> tuple:
    """Multi-head attention, as ``torch.nn.functional.multi_head_attention_forward``:

        head_i = Attention(q W_q,i, k W_k,i, v W_v,i),   out = cat(head_1..head_h) W_o^T + b_o

    each head of size E / num_heads, scale 1 / sqrt(E / num_heads).

    Shape: query (L, N, E), key (S, N, kdim), value (S, N, vdim) (or (N, L, E)
    ... with ``batch_first``, or unbatched (L, E)) -> output like query, and the
    attention weights (N, L, S) averaged over heads, or (N, num_heads, L, S), or
    None when not ``need_weights``.

    Masks (True = MASKED OUT, or float added): ``key_padding_mask`` (N, S),
    ``attn_mask`` (L, S) or (N * num_heads, L, S).  ``is_causal`` is only a hint
    that ``attn_mask`` is the causal mask (which must then be given), as PyTorch.
    A query whose keys are all masked gets zero weights and output.
    """
    name = "multi_head_attention_forward"
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{name}: static_k / static_v are not supported")
    if is_causal and attn_mask is None:
        raise ValueError(f"{name}: is_causal is a hint that attn_mask is the causal mask; "
                         f"pass attn_mask too")
    query, key, value = tensor_arg(query), tensor_arg(key), tensor_arg(value)
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"{name}: query, key and value must all be 3-D (batched) or 2-D "
                         f"(unbatched), got {query.shape}, {key.shape}, {value.shape}")
    if not batched:  # one sequence: add a batch dim of 1 (masks too)
        batch_first = True
        query, key, value = query[None], key[None], value[None]
        if key_padding_mask is not None:
            key_padding_mask = tensor_arg(key_padding_mask)
            if key_padding_mask.shape != key.shape[1:2]:
                raise ValueError(f"{name}: key_padding_mask of shape {key_padding_mask.shape} "
                                 f"should be (S,) = {key.shape[1:2]} for an unbatched key of "
                                 f"shape {key.shape[1:]}")
            key_padding_mask = key_padding_mask[None]
        if attn_mask is not None and tensor_arg(attn_mask).ndim == 3:
            attn_mask = tensor_arg(attn_mask)  # (num_heads, L, S) is already (1 * heads, L, S)
    e = embed_dim_to_check
    if query.shape[-1] != e:
        raise ValueError(f"{name}: query of shape {query.shape} does not end in embed_dim {e}")
    if e % num_heads:
        raise ValueError(f"{name}: embed_dim {e} is not divisible by num_heads {num_heads}")
    if key.shape[:-1] != value.shape[:-1]:
        raise ValueError(f"{name}: key {key.shape} and value {value.shape} must have the same "
                         f"sequence and batch sizes")
    n = query.shape[0] if batch_first else query.shape[1]
    if (key.shape[0] if batch_first else key.shape[1]) != n:
        raise ValueError(f"{name}: query {query.shape} and key {key.shape} have different "
                         f"batch sizes")
    if use_separate_proj_weight:
        in_proj_weight = None
    for what, x, w in (("key", key, k_proj_weight), ("value", value, v_proj_weight)):
        separate = in_proj_weight is None and w is not None
        features, dim_name = (w.shape[1], what[0] + "dim") if separate else (e, "embed_dim")
        if x.shape[-1] != features:
            raise ValueError(f"{name}: {what} of shape {x.shape} does not end in {dim_name} = "
                             f"{features}")
    q, k, v = _in_projection(query, key, value, e, in_proj_weight, in_proj_bias,
                             q_proj_weight, k_proj_weight, v_proj_weight)
    seq_dim = 1 if batch_first else 0
    extra = 0
    if bias_k is not None and bias_v is not None:  # one learned key/value appended
        shape = (n, 1, e) if batch_first else (1, n, e)
        k = ag.cat([k, bias_k.reshape(1, 1, e).expand(*shape)], seq_dim)
        v = ag.cat([v, bias_v.reshape(1, 1, e).expand(*shape)], seq_dim)
        extra += 1
    q, k, v = (_split_heads(t, num_heads, batch_first) for t in (q, k, v))
    if add_zero_attn:  # one all-zero key/value appended
        zeros = ag.zeros((n, num_heads, 1, e // num_heads), dtype=q.dtype, device=q.device)
        k, v = ag.cat([k, zeros], 2), ag.cat([v, zeros], 2)
        extra += 1
    length, source = q.shape[2], k.shape[2] - extra
    mask = _mha_masks(name, key_padding_mask, attn_mask, q, n, num_heads, length,
                      source, extra)
    out, weights = _attend(q, k, v, mask, dropout_p if training else 0.0,
                           1.0 / math.sqrt(e // num_heads))
    out = linear(_merge_heads(out, batch_first), out_proj_weight, out_proj_bias)
    if need_weights:
        weights = weights.mean(1) if average_attn_weights else weights
        if not batched:
            weights = weights[0]
    else:
        weights = None
    return (out if batched else out[0]), weights
