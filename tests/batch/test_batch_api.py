"""The public surface of ``adrastea.batch`` is exactly its ``__all__``."""

from __future__ import annotations

import adrastea.batch as batch
from adrastea import errors


def test_all_is_honest() -> None:
    assert len(set(batch.__all__)) == len(batch.__all__)
    for name in batch.__all__:
        assert hasattr(batch, name), name
        assert not name.startswith("_")
    public = {
        name
        for name, value in vars(batch).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("adrastea.")
    }
    assert public <= set(batch.__all__)


def test_parameter_error_is_in_the_error_tree() -> None:
    assert issubclass(errors.ParameterError, errors.BadRequest)
    assert "ParameterError            400 invalid-parameter" in (errors.__doc__ or "")
