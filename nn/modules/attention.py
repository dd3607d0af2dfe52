"""``MultiheadAttention``, with PyTorch's parameters and masks."""
from __future__ import annotations

import graphgrad.autograd as ag

from .. import init
from ..functional.attention import multi_head_attention_forward
from ..module import Module
from ..parameter import Parameter
from .linear import Linear

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017):

        head_i = softmax((q W_q,i^T)(k W_k,i^T)^T / sqrt(d) + M) (v W_v,i^T),   d = E / num_heads
        out    = cat(head_1, ..., head_h) W_o^T + b_o

    Shape: query (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, L, E) ...
    with ``batch_first``; (L, E) unbatched) -> output like query, and the
    attention weights averaged over heads (N, L, S), or per head (N, num_heads,
    L, S) with ``average_attn_weights=False``, or None with ``need_weights=False``.

    Masks, where True means MASKED OUT (a float mask is added to the scores):
    ``key_padding_mask`` (N, S) hides padded keys, ``attn_mask`` (L, S) or
    (N * num_heads, L, S) hides key positions per query (e.g. the causal mask).
    ``is_causal`` is a hint that ``attn_mask`` is causal, as PyTorch.  A query
    whose keys are all masked gets zero weights and output (PyTorch: NaN).
    ``dropout`` applies to the attention weights in training.

    Parameters, in PyTorch's order: ``in_proj_weight`` (3E, E) (or, when kdim or
    vdim differ from E, ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim)), ``in_proj_bias`` (3E,), ``bias_k``, ``bias_v``
    (1, 1, E) with ``add_bias_kv``, and ``out_proj`` (a Linear E -> E).  Init:
    Xavier-uniform projections, zero biases, Xavier-normal bias_k / bias_v,
    out_proj.weight as Linear's default.

        >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = gg.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)          # (2, 5, 16), (2, 5, 5)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, "
                             f"got {embed_dim} and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        e = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(ag.empty(3 * e, e, device=device, dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(ag.empty(e, e, device=device, dtype=dtype))
            self.k_proj_weight = Parameter(ag.empty(e, self.kdim, device=device, dtype=dtype))
            self.v_proj_weight = Parameter(ag.empty(e, self.vdim, device=device, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(ag.empty(3 * e, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(ag.empty(1, 1, e, device=device, dtype=dtype))
            self.bias_v = Parameter(ag.empty(1, 1, e, device=device, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple:
        """Returns ``(attn_output, attn_weights)``; see the class docstring for shapes."""
        return multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal, batch_first=self.batch_first,
        )

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            text += ", batch_first=True"
        return text
