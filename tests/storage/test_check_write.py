"""Every adapter's write check succeeds on a healthy store and leaves nothing behind."""

from __future__ import annotations

from portal.storage.port import Store
from tests.builders import make_survey


def test_the_write_check_passes_and_stores_nothing(store: Store) -> None:
    store.check_write()
    store.check_write()  # cheap enough to repeat: one probe every 30 s for ever
    assert store.list_surveys() == []
    store.add_survey(make_survey())
    store.check_write()
    assert [s.slug for s in store.list_surveys()] == [make_survey().slug]
