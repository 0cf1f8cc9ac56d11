"""Issue 11 #10: the signature stamp prints its time as egov writes it, in Kazakhstan's time, from the catalogue
(forms/catalogue/service.toml ``[dates] stamp_kk`` / ``stamp_ru``), not a format written in Python."""

import datetime as dt

from forms.catalogue import stamp_time_format
from signing.stamp import format_time


def test_the_stamp_time_is_the_catalogues_official_style_in_kazakhstans_time():
    signed = dt.datetime(2026, 7, 2, 14, 42, 5, tzinfo=dt.UTC)  # 19:42 in Almaty
    assert format_time(signed, stamp_time_format("kk")) == "02.07.2026 19:42"
    assert format_time(signed, stamp_time_format("ru")) == "02.07.2026 в 19:42"
