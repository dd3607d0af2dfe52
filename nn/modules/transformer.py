"""Transformer layers (Vaswani et al., 2017) with PyTorch's names, arguments and parameter
order, and the sinusoidal ``PositionalEncoding`` the course adds to the inputs.

Each sub-layer is wrapped in a residual connection and a LayerNorm, either after
the residual (``norm_first=False``, the original "post-norm")

    x = norm(x + sublayer(x))

or before the sub-layer (``norm_first=True``, "pre-norm")

    x = x + sublayer(norm(x)).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

from graphgrad.autograd import Tensor, tensor
from graphgrad.autograd.devices import check_device

from .. import functional as F
from .. import init
from ..module import Module
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerDecoder", "Transformer", "PositionalEncoding"]


def _activation(activation) -> Callable:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise ValueError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")


def _add_feedforward_and_norms(layer: Module, sublayers: int, d_model: int,
                               dim_feedforward: int, dropout: float, activation,
                               layer_norm_eps: float, norm_first: bool, bias: bool,
                               device, dtype) -> None:
    """Register what encoder and decoder layers share, in PyTorch's order: linear1,
    dropout, linear2, norm1..normK, dropout1..dropoutK (K = ``sublayers``)."""
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
    layer.norm_first = norm_first
    for k in range(1, sublayers + 1):
        setattr(layer, f"norm{k}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                             device=device, dtype=dtype))
    for k in range(1, sublayers + 1):
        setattr(layer, f"dropout{k}", Dropout(dropout))
    layer.activation = _activation(activation)


class TransformerEncoderLayer(Module):
    """Self-attention then a position-wise feed-forward network, each with a residual
    connection and LayerNorm (post-norm, or pre-norm with ``norm_first``):

        sa(x) = dropout1(self_attn(x, x, x))
        ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))

    Shape: src (S, N, E) ((N, S, E) with ``batch_first``) -> same.  Masks as
    ``MultiheadAttention`` (True = masked out): ``src_mask`` (S, S) or
    (N * nhead, S, S), ``src_key_padding_mask`` (N, S).

    Submodules in PyTorch's order: ``self_attn``, ``linear1`` (E -> dim_feedforward),
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``; each with
    its own default init.

        >>> layer = nn.TransformerEncoderLayer(d_model=128, nhead=8, batch_first=True)
        >>> layer(gg.randn(16, 64, 128)).shape
        (16, 64, 128)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, device=device, dtype=dtype)
        _add_feedforward_and_norms(self, 2, d_model, dim_feedforward, dropout, activation,
                                   layer_norm_eps, norm_first, bias, device, dtype)

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Masked self-attention, attention over the encoder output ``memory``, then a
    feed-forward network, each with a residual connection and LayerNorm (post-norm, or
    pre-norm with ``norm_first``).

    Shape: tgt (T, N, E), memory (S, N, E) ((N, T, E), (N, S, E) with
    ``batch_first``) -> like tgt.  Masks (True = masked out): ``tgt_mask`` (T, T)
    (the causal mask for autoregressive decoding, see
    ``Transformer.generate_square_subsequent_mask``), ``memory_mask`` (T, S),
    ``tgt_key_padding_mask`` (N, T), ``memory_key_padding_mask`` (N, S).

    Submodules in PyTorch's order: ``self_attn``, ``multihead_attn``, ``linear1``,
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``norm3``, ``dropout1``,
    ``dropout2``, ``dropout3``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, device=device, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, device=device,
                                                 dtype=dtype)
        _add_feedforward_and_norms(self, 3, d_model, dim_feedforward, dropout, activation,
                                   layer_norm_eps, norm_first, bias, device, dtype)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` independent deep copies of ``encoder_layer`` applied in turn, then
    the optional final ``norm``.  Parameters are named ``layers.0.self_attn...``,
    ``norm.weight`` as PyTorch.  forward(src, mask, src_key_padding_mask, is_causal)."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None,
                is_causal: bool | None = None) -> Tensor:
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """``num_layers`` independent deep copies of ``decoder_layer`` applied in turn, each
    attending to ``memory``, then the optional final ``norm``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """The encoder-decoder transformer: ``encoder`` (num_encoder_layers layers and a final
    LayerNorm) and ``decoder`` (num_decoder_layers layers and a final LayerNorm), as
    PyTorch's; every weight matrix (dim > 1) is re-initialised Xavier-uniform.

    forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
    tgt_key_padding_mask, memory_key_padding_mask) -> (T, N, E) ((N, T, E) batch first).
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        options = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                       layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                       norm_first=norm_first, bias=bias, device=device, dtype=dtype)
        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **options), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype))
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **options), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype))
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        for param in self.parameters():
            if param.ndim > 1:
                init.xavier_uniform_(param)

    def forward(self, src: Tensor, tgt: Tensor, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The (sz, sz) causal float mask: 0 on and below the diagonal, -inf above it
        (position i may attend to positions j <= i).  float32 unless ``dtype``."""
        where = check_device("generate_square_subsequent_mask", device)
        mask = np.triu(np.full((sz, sz), -np.inf), k=1)
        return tensor(mask, dtype=dtype or np.float32, device=where)


class PositionalEncoding(Module):
    """Adds the sinusoidal position encoding of "Attention is all you need", then dropout:

        PE(pos, 2i)     = sin(pos / 10000^(2i / d_model))
        PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model))
        y = dropout(x + PE[:seq_len])

    Not in PyTorch; the course (and PyTorch's transformer tutorial, whose buffer
    name and shape it keeps) uses it.  Shape: x (T, N, d_model) ((N, T, d_model)
    with ``batch_first``; (T, d_model) unbatched) -> same, T <= ``max_len``.
    Buffer: ``pe`` (max_len, 1, d_model), a constant.  No parameters.

        >>> pos = nn.PositionalEncoding(128, dropout=0.1, batch_first=True)
        >>> pos(gg.randn(16, 64, 128)).shape
        (16, 64, 128)
    """

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000,
                 batch_first: bool = False, dtype=None) -> None:
        super().__init__()
        self.d_model = d_model
        self.max_len = max_len
        self.batch_first = batch_first
        self.dropout = Dropout(dropout)
        position = np.arange(max_len, dtype=np.float64)[:, None]
        div_term = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, 1, d_model))
        pe[:, 0, 0::2] = np.sin(position * div_term)
        pe[:, 0, 1::2] = np.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", Tensor(pe, dtype=dtype or np.float32))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            raise ValueError(f"PositionalEncoding: expected input (T, N, {self.d_model}) or "
                             f"(T, {self.d_model}), got {x.shape}")
        length = x.shape[1] if self.batch_first and x.ndim == 3 else x.shape[0]
        if length > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence length {length} exceeds max_len "
                             f"{self.max_len}")
        pe = self.pe._data[:length]
        pe = pe if x.ndim == 3 and not self.batch_first else pe[:, 0]
        return self.dropout(x + pe.astype(x.dtype, copy=False))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"
