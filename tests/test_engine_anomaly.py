"""Engine semantics: detect_anomaly names the op and the user's line behind the first NaN/Inf."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor

# These tests make NaN/Inf on purpose; NumPy's warnings about them are noise here.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_anomaly_forward_nan_names_op_and_source_line():
    x = Tensor(np.array([-1.0, 4.0]), requires_grad=True)
    with gg.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            x.log()  # the NaN is born here
    message = str(info.value)
    assert "log" in message and "NaN" in message
    assert "test_engine_anomaly.py" in message and "x.log()" in message


def test_anomaly_forward_inf_is_reported():
    x = Tensor(np.array([0.0, 1.0]))
    with gg.detect_anomaly():
        with pytest.raises(FloatingPointError, match="div.*Inf"):
            _ = 1.0 / x


def test_anomaly_backward_names_op_and_creation_line():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with gg.detect_anomaly():
        y = x.sqrt()  # finite forward, infinite derivative at 0
        with pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "sqrt" in message and "Inf" in message
    assert "test_engine_anomaly.py" in message and "y = x.sqrt()" in message


def test_anomaly_backward_reports_the_first_bad_gradient():
    # 0 * log(0) gives a NaN gradient for the log input; the mul before it is fine.
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    with gg.detect_anomaly():
        y = (x * 3.0).sqrt()
        loss = (y * 2.0).sum()
        with pytest.raises(FloatingPointError, match="sqrt") as info:
            loss.backward()
    assert "mul" not in str(info.value).split("\n")[0]


def test_anomaly_mode_restored_and_nan_allowed_outside():
    x = Tensor(np.array([-1.0]), requires_grad=True)
    with gg.detect_anomaly():
        pass
    y = x.log()  # NaN values are fine outside anomaly mode
    assert np.isnan(y.numpy()).all()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0])


def test_anomaly_decorator_and_set_detect_anomaly():
    @gg.detect_anomaly()
    def f(x):
        return x.log()

    with pytest.raises(FloatingPointError):
        f(Tensor(np.array([-1.0])))
    with gg.detect_anomaly():
        with gg.set_detect_anomaly(False):
            Tensor(np.array([-1.0])).log()  # off: no error
