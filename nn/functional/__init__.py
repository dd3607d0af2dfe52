"""``nn.functional``: every layer and loss as a plain function (as ``torch.nn.functional``).

All are compositions of autograd operations: gradients come from the engine,
and nothing here holds gradient code.

    import graphgrad.nn.functional as F
    loss = F.cross_entropy(F.linear(x, w, b), labels)
"""
from graphgrad.autograd import pad  # noqa: F401

from .activation import (  # noqa: F401
    celu, celu_, elu, elu_, gelu, glu, hardshrink, hardsigmoid, hardswish, hardtanh, hardtanh_,
    leaky_relu, leaky_relu_, log_softmax, logsigmoid, mish, prelu, relu, relu6, relu_, selu,
    selu_, sigmoid, silu, softmax, softmin, softplus, softshrink, softsign, tanh, tanhshrink,
    threshold, threshold_,
)
from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: F401
from .conv import (  # noqa: F401
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold, unfold,
)
from .ctc import ctc_loss  # noqa: F401
from .distance import cosine_similarity, pairwise_distance, vector_norm  # noqa: F401
from .dropout import dropout, dropout1d, dropout2d  # noqa: F401
from .linear import bilinear, linear  # noqa: F401
from .loss import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div,
    l1_loss, mse_loss, nll_loss, smooth_l1_loss, triplet_margin_loss,
)
from .loss import gaussian_nll_loss, poisson_nll_loss  # noqa: F401
from .loss_margin import (  # noqa: F401
    cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
    multilabel_margin_loss, multilabel_soft_margin_loss, soft_margin_loss,
    triplet_margin_with_distance_loss,
)
from .normalization import (  # noqa: F401
    batch_norm, group_norm, instance_norm, layer_norm, local_response_norm, normalize, rms_norm,
)
from .adaptive_pooling import (  # noqa: F401
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices, adaptive_max_pool2d, adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d, adaptive_max_pool3d_with_indices,
)
from .grid_sampling import affine_grid, grid_sample  # noqa: F401
from .pooling import (  # noqa: F401
    avg_pool1d, avg_pool2d, avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d,
    max_pool1d_with_indices, max_pool2d, max_pool2d_with_indices, max_pool3d,
    max_pool3d_with_indices, max_unpool1d, max_unpool2d, max_unpool3d,
)
from .resampling import (  # noqa: F401
    interpolate, pixel_shuffle, pixel_unshuffle, upsample, upsample_bilinear, upsample_nearest,
)
from .sparse import embedding, embedding_bag, one_hot  # noqa: F401
