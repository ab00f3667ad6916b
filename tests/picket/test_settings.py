from __future__ import annotations

import pytest

from picket.settings import SettingsError, load_settings


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICKET_API_PORT", "eighty")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "PICKET_API_PORT" in message and "\n" not in message


def test_defaults_use_sqlite_in_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PICKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PICKET_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'picket.db'}"
