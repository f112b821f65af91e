"""Branding's settings with a bad value stop start-up with a message naming them."""

import pytest

from tests.test_settings_validation import start


@pytest.mark.parametrize("name, value", [
    ("BRANDING_SHARD_TIMEOUT", "0"), ("BRANDING_SHARD_TIMEOUT", "slow"), ("BRANDING_SHARD_TIMEOUT", "500"),
    ("BRANDING_MAX_ATTEMPTS", "0"), ("BRANDING_MAX_ATTEMPTS", "51"), ("BRANDING_RETRY_DELAY", "-1"),
])
def test_a_bad_branding_setting_stops_start_up_naming_it(name, value):
    result = start(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_good_branding_settings_start():
    result = start(BRANDING_SHARD_TIMEOUT="2.5", BRANDING_MAX_ATTEMPTS="3", BRANDING_RETRY_DELAY="1")
    assert result.returncode == 0, result.stderr
