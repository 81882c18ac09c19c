"""The DynamoDB adapter: one table, keys ``pk``/``sk``, on-demand capacity.

Key design (see docs/architecture.md for every access pattern and its cost):

=====================  ===========================  ====================
record                 pk                           sk
=====================  ===========================  ====================
survey                 ``SURVEYS``                  ``<slug>``
department             ``SURVEY#<slug>``            ``DEPT#<code>``
wave                   ``SURVEY#<slug>``            ``WAVE#<wave id>``
link (by token)        ``LINK#<token>``             ``LINK``
link (by wave)         ``SURVEY#<slug>``            ``LINK#<wave>#<dept>#<token>``
access code            ``CODE#<sha-256>``           ``CODE``
account                ``USERS``                    ``<e-mail>``
audit event            ``AUDIT``                    ``<ISO time>#<random>``
sign-in attempts       ``ATTEMPTS#<key>#<window>``  ``A`` (expires by TTL)
aggregate cell         ``AGG#<slug>#<wave>#<snap>`` ``<department code>``
aggregate comments     ``AGGTXT#<slug>#<wave>#<s>`` ``<department code>``
aggregate pointer      ``SURVEY#<slug>``            ``AGGHEAD#<wave id>``
wave's departments     ``FROZEN#<slug>#<wave id>``  ``<freeze id>#<code>``
their pointer          ``FROZEN#<slug>#<wave id>``  ``HEAD``
response               ``RESP#<slug>#<wave id>``    ``<random key>``
API token (by hash)    ``TOKEN#<sha-256>``          ``TOKEN``
API token (by account) ``USER#<e-mail>``            ``TOKEN#<created day>#<sha-256>``
plan action            ``SURVEY#<slug>``            ``PLAN#<dept or *>#<action id>``
scorecard settings     ``SURVEY#<slug>``            ``SCORECARD``
=====================  ===========================  ====================

An API token is written twice, like a link: the item by hash answers each API
request with one ``GetItem`` (0.5 RCU, strongly consistent so a revocation
applies at once: 1 RCU); the copy by account lets the tokens page list one
account's tokens with one ``Query``. Both are written in one transaction (two
items, 4 WCU); the by-hash item is conditional, so a clash or a missing token
changes neither.

Plan actions sit in their survey's partition, so a survey's whole plan is one
``Query`` on ``begins_with(sk, "PLAN#")`` and one department's on
``PLAN#<dept>#`` (codes cannot contain ``#``; the organisation's plan is ``*``).
They are few (tens per department) and sorted in Python by ``plan_order``.

A results snapshot keeps each department's numeric cell (``AGG#…``, about 6 KB)
and its comment texts (``AGGTXT#…``, only for departments with comments, at most
2 × ``aggregates.COMMENT_BUDGET`` bytes) in two partitions of their own. Every
dashboard view queries the cells' partition whole; DynamoDB bills a read by the
size of the items it returns whatever ``ProjectionExpression`` asks for, so the
texts must live in other items — and another partition keeps the cells' query
a plain one that also reads snapshots written before the split. A department
page reads its texts with one ``GetItem``.

A wave's departments as of its opening (``freeze_departments``) are written under
a fresh random freeze id, then claimed by one conditional put of the ``HEAD`` item:
the first claim wins, and a loser deletes its own items. Reading them is one
``Query`` of the partition (the head and the winner's items; strongly consistent
only if an eventually consistent read returned fewer items than the head counts).

The table is injected (a boto3 ``Table`` resource, or a function that makes one
on first use); this module never creates a client or resource at import time.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from portal.domain import aggregates
from portal.domain.accounts import ApiToken, AuditEvent, User
from portal.domain.entities import (
    AccessCode,
    Department,
    Link,
    Response,
    StoreOutcome,
    Survey,
    Wave,
    WaveStatus,
)
from portal.domain.errors import (
    AlreadyExists,
    CodeAlreadyUsed,
    Conflict,
    NotFound,
    StorageError,
)
from portal.domain.scorecard import PlanAction, ScorecardSettings, plan_order
from portal.storage import codec
from portal.storage.port import MAX_PAGE_SIZE, NO_SNAPSHOT, Page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

SURVEYS_PK = "SURVEYS"
#: DynamoDB's limit of actions in one TransactWriteItems call.
TRANSACTION_ITEMS = 100
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
#: The key ``check_write`` puts to, on condition that it exists: it never does.
HEALTH_KEY = {"pk": "HEALTH", "sk": "HEALTH"}
log = logging.getLogger("portal.storage")
#: Fields kept beside pk/sk on a response item; ``tests/storage`` pins this list.
RESPONSE_FIELDS = ("pk", "sk", "dept", "aud", "lang", "day", "ans", "comment")


#: The ``sk`` of the item naming a wave's frozen departments (theirs are ``<freeze id>#<code>``).
FROZEN_HEAD = "HEAD"

#: The attribute DynamoDB's TTL deletes items by (sign-in attempt counters).
TTL_ATTRIBUTE = "expires_at"


def table_definition(name: str) -> dict[str, Any]:
    """Return the ``CreateTable`` arguments shared by ``init-db`` and the tests.

    ``infra/portal.yaml`` declares the same table for production.
    """
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def _plain(value: Any) -> Any:
    """Turn DynamoDB's Decimals back into ints, recursively."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class DynamoStore:
    """A ``Store`` over one DynamoDB table."""

    def __init__(self, table: Table | Callable[[], Table], *, allow_create: bool = False) -> None:
        """Use ``table``, or call it once on first use when it is a function that makes it.

        A deferred table keeps boto3's client out of a process until a request reads
        or writes: building it costs a Lambda cold start about 20 ms, which the front
        page and static files need not pay.
        """
        self._table: Table | None = None if callable(table) else table
        self._make_table = table if callable(table) else None
        self._making = threading.Lock()
        self.allow_create = allow_create

    @property
    def table(self) -> Table:
        """The boto3 ``Table`` resource (made now if it was deferred)."""
        if self._table is None:
            with self._making:
                if self._table is None:
                    assert self._make_table is not None
                    self._table = self._make_table()
        return self._table

    @contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """Wrap boto3 failures in ``StorageError``, marking the retryable ones."""
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            reasons = exc.response.get("CancellationReasons", [])
            answered = code == "ConditionalCheckFailedException" or (
                code == "TransactionCanceledException"
                and any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
            )
            if not answered:  # a refused condition is an answer ("exists"), not a failure
                # The error code only: DynamoDB's messages may quote the values sent.
                log.error("DynamoDB failed while %s: %s", doing, code or type(exc).__name__)
            if code == "ResourceNotFoundException":
                raise StorageError(
                    f"The DynamoDB table {self.table.name!r} does not exist. Create it with "
                    "the CloudFormation template in infra/ or `portal init-db --create-table`."
                ) from exc
            raise StorageError(
                f"DynamoDB failed while {doing}: {code or exc}",
                transient=code in _TRANSIENT_CODES,
            ) from exc
        except BotoCoreError as exc:
            log.error("DynamoDB unreachable while %s: %s: %s", doing, type(exc).__name__, exc)
            # Timeouts and lost connections: the request may succeed if repeated.
            raise StorageError(
                f"DynamoDB unreachable while {doing}: {exc}", transient=True
            ) from exc

    # -- schema ------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the table if allowed and missing, wait until it is active, then turn on TTL.

        TTL on ``expires_at`` deletes sign-in attempt counters after their
        window, as ``infra/portal.yaml`` declares for production.
        """
        client = self.table.meta.client
        with self._calls("checking the table"):
            try:
                client.describe_table(TableName=self.table.name)
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
        if not self.allow_create:
            raise StorageError(
                f"The DynamoDB table {self.table.name!r} does not exist and creating tables "
                "is not allowed here. Deploy infra/portal.yaml, or pass --create-table "
                "(PORTAL_DYNAMODB_CREATE_TABLE=1)."
            )
        with self._calls("creating the table"):
            client.create_table(**table_definition(self.table.name))
            client.get_waiter("table_exists").wait(
                TableName=self.table.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            client.update_time_to_live(
                TableName=self.table.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )

    def check(self) -> None:
        """Raise ``StorageError`` unless the table answers."""
        with self._calls("checking the table"):
            self.table.meta.client.describe_table(TableName=self.table.name)

    def check_write(self) -> None:
        """Raise ``StorageError`` unless the table accepts a write now.

        One conditional ``PutItem`` of a tiny item on condition that it exists,
        which it never does: DynamoDB checks the permission, the table and the
        throughput as for any write (1 write unit, about 3,000 a day at one
        probe per 30 s) and stores nothing. The refusal is the healthy answer.
        """
        try:
            with self._calls("checking a write"):
                self.table.put_item(Item=HEALTH_KEY, ConditionExpression="attribute_exists(pk)")
        except StorageError as exc:
            if not _condition_failed(exc):
                raise

    # -- surveys -----------------------------------------------------------

    def add_survey(self, survey: Survey) -> None:
        """Store a new survey (one conditional write)."""
        item = {"pk": SURVEYS_PK, "sk": survey.slug, **codec.survey_to_dict(survey)}
        try:
            with self._calls("storing a survey"):
                self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except StorageError as exc:
            if _condition_failed(exc):
                raise AlreadyExists(f"A survey with the slug {survey.slug!r} exists.") from exc
            raise

    def get_survey(self, slug: str) -> Survey:
        """Return one survey (one read)."""
        with self._calls("reading a survey"):
            item = self.table.get_item(Key={"pk": SURVEYS_PK, "sk": slug}).get("Item")
        if item is None:
            raise NotFound(f"There is no survey {slug!r}.")
        return codec.survey_from_dict(_plain(item))

    def list_surveys(self) -> list[Survey]:
        """Return every survey by slug (one query)."""
        return [codec.survey_from_dict(i) for i in self._query(SURVEYS_PK)]

    # -- departments -------------------------------------------------------

    def put_departments(self, departments: Sequence[Department]) -> None:
        """Create or replace departments in batches of 25 writes."""
        with (
            self._calls("storing departments"),
            self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch,
        ):
            for d in departments:
                batch.put_item(
                    Item={
                        "pk": f"SURVEY#{d.survey_slug}",
                        "sk": f"DEPT#{d.code}",
                        **_without_none(codec.department_to_dict(d)),
                    }
                )

    def list_departments(self, survey_slug: str) -> list[Department]:
        """Return a survey's departments by code (one query per 1 MB)."""
        items = self._query(f"SURVEY#{survey_slug}", "DEPT#")
        return [codec.department_from_dict(i) for i in items]

    # -- waves -------------------------------------------------------------

    def add_wave(self, wave: Wave) -> None:
        """Store a new wave (one conditional write)."""
        try:
            with self._calls("storing a wave"):
                self.table.put_item(
                    Item=self._wave_item(wave), ConditionExpression="attribute_not_exists(pk)"
                )
        except StorageError as exc:
            if _condition_failed(exc):
                raise AlreadyExists(
                    f"Survey {wave.survey_slug!r} has a wave {wave.wave_id!r} already."
                ) from exc
            raise

    def update_wave(self, wave: Wave, *, expected_status: WaveStatus) -> None:
        """Replace a wave if its status is unchanged (one conditional write)."""
        try:
            with self._calls("updating a wave"):
                self.table.put_item(
                    Item=self._wave_item(wave),
                    ConditionExpression="attribute_exists(pk) AND #status = :expected",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={":expected": expected_status.value},
                )
        except StorageError as exc:
            if not _condition_failed(exc):
                raise
            # Only on this rare path do we spend a read to say what happened.
            current = self.get_wave(wave.survey_slug, wave.wave_id)
            raise Conflict(
                f"Wave {wave.wave_id!r} is {current.status.value} now, not "
                f"{expected_status.value}; reload and try again."
            ) from exc

    def get_wave(self, survey_slug: str, wave_id: str) -> Wave:
        """Return one wave (one read)."""
        with self._calls("reading a wave"):
            item = self.table.get_item(
                Key={"pk": f"SURVEY#{survey_slug}", "sk": f"WAVE#{wave_id}"}
            ).get("Item")
        if item is None:
            raise NotFound(f"Survey {survey_slug!r} has no wave {wave_id!r}.")
        return codec.wave_from_dict(_plain(item))

    def list_waves(self, survey_slug: str) -> list[Wave]:
        """Return a survey's waves, oldest first (one query)."""
        waves = [codec.wave_from_dict(i) for i in self._query(f"SURVEY#{survey_slug}", "WAVE#")]
        return sorted(waves, key=lambda w: (w.created_on, w.wave_id))

    # -- a wave's departments as of its opening ----------------------------

    def freeze_departments(
        self, survey_slug: str, wave_id: str, departments: Sequence[Department]
    ) -> list[Department]:
        """Store the wave's departments unless it has some; return the stored ones.

        Costs one query when frozen already; otherwise one write per department
        (batches of 25) and one conditional put of the head.
        """
        existing = self.get_frozen_departments(survey_slug, wave_id)
        if existing is not None:
            return existing
        pk, freeze = f"FROZEN#{survey_slug}#{wave_id}", secrets.token_hex(8)
        with self._calls("freezing a wave's departments"), self.table.batch_writer() as batch:
            for d in departments:
                fields = _without_none(codec.department_to_dict(d))
                batch.put_item(Item={"pk": pk, "sk": f"{freeze}#{d.code}", **fields})
        try:
            with self._calls("freezing a wave's departments"):
                self.table.put_item(
                    Item={"pk": pk, "sk": FROZEN_HEAD, "freeze": freeze, "count": len(departments)},
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except StorageError as exc:
            if not _condition_failed(exc):
                raise
            with self._calls("dropping an unused copy of a wave's departments"):
                with self.table.batch_writer() as batch:
                    for d in departments:
                        batch.delete_item(Key={"pk": pk, "sk": f"{freeze}#{d.code}"})
            won = self.get_frozen_departments(survey_slug, wave_id)
            if won is None:  # a head is never deleted; only a broken table gets here
                raise StorageError("A wave's frozen departments vanished; try again.") from exc
            return won
        return sorted(departments, key=lambda d: d.code)

    def get_frozen_departments(self, survey_slug: str, wave_id: str) -> list[Department] | None:
        """Return the wave's frozen departments by code, or ``None`` (one query)."""
        pk = f"FROZEN#{survey_slug}#{wave_id}"
        for consistent in (False, True):
            items = self._query(pk, consistent=consistent)
            head = next((i for i in items if i["sk"] == FROZEN_HEAD), None)
            if head is None:
                if consistent:
                    return None
                continue
            prefix = f"{head['freeze']}#"
            found = [i for i in items if i["sk"].startswith(prefix)]
            if len(found) == head["count"]:
                departments = [codec.department_from_dict(i) for i in found]
                return sorted(departments, key=lambda d: d.code)
        raise StorageError(
            f"Wave {wave_id!r}: the frozen departments are incomplete; try again.",
            transient=True,
        )

    @staticmethod
    def _wave_item(wave: Wave) -> dict[str, Any]:
        return {
            "pk": f"SURVEY#{wave.survey_slug}",
            "sk": f"WAVE#{wave.wave_id}",
            **_without_none(codec.wave_to_dict(wave)),
        }

    # -- links and codes ---------------------------------------------------

    def put_links(self, links: Sequence[Link]) -> None:
        """Write each link twice (by token, by wave) in transactions of 50 links."""
        for start in range(0, len(links), TRANSACTION_ITEMS // 2):
            actions: list[Any] = []
            for link in links[start : start + TRANSACTION_ITEMS // 2]:
                fields = _without_none(codec.link_to_dict(link))
                for pk, sk in (
                    (f"LINK#{link.token}", "LINK"),
                    (
                        f"SURVEY#{link.survey_slug}",
                        f"LINK#{link.wave_id}#{link.department_code}#{link.token}",
                    ),
                ):
                    actions.append({"Put": self._put(pk, sk, fields)})
            with self._calls("storing survey links"):
                self.table.meta.client.transact_write_items(TransactItems=actions)

    def get_link(self, token: str) -> Link:
        """Return one link (one read)."""
        with self._calls("reading a survey link"):
            item = self.table.get_item(Key={"pk": f"LINK#{token}", "sk": "LINK"}).get("Item")
        if item is None:
            raise NotFound("There is no survey link with that token.")
        return codec.link_from_dict(_plain(item))

    def list_links(self, survey_slug: str, wave_id: str) -> list[Link]:
        """Return a wave's links in department, token order (one query per 1 MB)."""
        items = self._query(f"SURVEY#{survey_slug}", f"LINK#{wave_id}#")
        return [codec.link_from_dict(i) for i in items]

    def add_access_codes(self, codes: Sequence[AccessCode]) -> None:
        """Store new codes with conditional puts, in transactions of 100 (all or none each)."""
        for start in range(0, len(codes), TRANSACTION_ITEMS):
            actions: list[Any] = []
            for code in codes[start : start + TRANSACTION_ITEMS]:
                put = self._put(
                    f"CODE#{code.code_hash}",
                    "CODE",
                    {
                        "code_hash": code.code_hash,
                        "survey_slug": code.survey_slug,
                        "wave_id": code.wave_id,
                        "department_code": code.department_code,
                        "used": code.used,
                    },
                )
                put["ConditionExpression"] = "attribute_not_exists(pk)"
                actions.append({"Put": put})
            try:
                with self._calls("storing access codes"):
                    self.table.meta.client.transact_write_items(TransactItems=actions)
            except StorageError as exc:
                if _cancel_reasons(exc):
                    raise AlreadyExists("An access code with the same hash exists.") from exc
                raise

    def get_access_code(self, code_hash: str) -> AccessCode:
        """Return one code (one read)."""
        with self._calls("reading an access code"):
            item = self.table.get_item(Key={"pk": f"CODE#{code_hash}", "sk": "CODE"}).get("Item")
        if item is None:
            raise NotFound("There is no such access code.")
        return codec.access_code_from_dict(_plain(item))

    def _put(self, pk: str, sk: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Build a ``Put`` for a transaction.

        The resource's client serialises plain Python values itself, so items
        and keys here are plain values, not ``{"S": ...}`` descriptors.
        """
        return {"TableName": self.table.name, "Item": {"pk": pk, "sk": sk, **fields}}

    # -- responses ---------------------------------------------------------

    def add_response(self, response: Response, *, code_hash: str | None = None) -> StoreOutcome:
        """Put a response unless its key exists: one conditional write, no read.

        With a code: one transaction of two writes (the response, and the code
        marked used), each conditional, so neither can happen without the other.
        """
        item: dict[str, Any] = {
            "pk": _response_pk(response.survey_slug, response.wave_id),
            "sk": response.key,
            "dept": response.department_code,
            "aud": response.audience.value,
            "lang": response.language,
            "day": response.day.isoformat(),
            "ans": dict(response.answers),
        }
        if response.comment is not None:
            item["comment"] = response.comment
        if code_hash is not None:
            return self._add_response_with_code(item, code_hash)
        try:
            with self._calls("storing a response"):
                self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except StorageError as exc:
            if _condition_failed(exc):
                return StoreOutcome.ALREADY_STORED
            raise
        return StoreOutcome.STORED

    def _add_response_with_code(self, item: dict[str, Any], code_hash: str) -> StoreOutcome:
        put = self._put(item.pop("pk"), item.pop("sk"), item)
        put["ConditionExpression"] = "attribute_not_exists(pk)"
        consume: dict[str, Any] = {
            "TableName": self.table.name,
            "Key": {"pk": f"CODE#{code_hash}", "sk": "CODE"},
            "UpdateExpression": "SET used = :yes",
            "ConditionExpression": "attribute_exists(pk) AND used = :no",
            "ExpressionAttributeValues": {":yes": True, ":no": False},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        actions: list[Any] = [{"Put": put}, {"Update": consume}]
        try:
            with self._calls("storing a response"):
                self.table.meta.client.transact_write_items(TransactItems=actions)
        except StorageError as exc:
            reasons = _cancel_reasons(exc)
            if not reasons:
                raise
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                return StoreOutcome.ALREADY_STORED
            if reasons[1].get("Code") == "ConditionalCheckFailed":
                if reasons[1].get("Item"):
                    raise CodeAlreadyUsed("This code was already used.") from exc
                raise NotFound("There is no such access code.") from exc
            raise
        return StoreOutcome.STORED

    def list_responses(
        self, survey_slug: str, wave_id: str, *, cursor: str | None = None, limit: int = 500
    ) -> Page[Response]:
        """Return a page of a wave's responses in key order (queries of up to 1 MB)."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        pk = _response_pk(survey_slug, wave_id)
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = {"pk": pk, "sk": cursor} if cursor else None
        # Ask for one more than needed: that tells exactly whether another page exists.
        while len(items) <= limit:
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": pk},
                "Limit": limit + 1 - len(items),
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            with self._calls("reading responses"):
                page = self.table.query(**kwargs)
            items.extend(page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        more = len(items) > limit
        responses = [
            codec.response_from_fields(
                survey_slug,
                wave_id,
                str(i["sk"]),
                str(i["dept"]),
                str(i["aud"]),
                str(i["lang"]),
                str(i["day"]),
                _plain(i["ans"]),
                i.get("comment"),
            )
            for i in items[:limit]
        ]
        return Page(responses, responses[-1].key if more else None)

    # -- accounts, audit trail, throttling -----------------------------------

    def add_user(self, user: User) -> None:
        """Store a new account (one conditional write)."""
        item = {"pk": "USERS", "sk": user.email, **codec.user_to_dict(user)}
        try:
            with self._calls("storing an account"):
                self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except StorageError as exc:
            if _condition_failed(exc):
                raise AlreadyExists(f"There is an account for {user.email} already.") from exc
            raise

    def put_user(self, user: User) -> None:
        """Replace an existing account (one conditional write)."""
        item = {"pk": "USERS", "sk": user.email, **codec.user_to_dict(user)}
        try:
            with self._calls("updating an account"):
                self.table.put_item(Item=item, ConditionExpression="attribute_exists(pk)")
        except StorageError as exc:
            if _condition_failed(exc):
                raise NotFound(f"There is no account for {user.email}.") from exc
            raise

    def get_user(self, email: str) -> User:
        """Return one account (one strongly consistent read: revocations apply at once)."""
        with self._calls("reading an account"):
            response = self.table.get_item(Key={"pk": "USERS", "sk": email}, ConsistentRead=True)
        item = response.get("Item")
        if item is None:
            raise NotFound(f"There is no account for {email}.")
        return codec.user_from_dict(_plain(item))

    def list_users(self) -> list[User]:
        """Return every account by e-mail (one query)."""
        return [codec.user_from_dict(i) for i in self._query("USERS")]

    def add_audit_event(self, event: AuditEvent) -> None:
        """Append an audit event (one write)."""
        sort_key = codec.audit_sort_key(event)
        with self._calls("writing the audit trail"):
            self.table.put_item(Item={"pk": "AUDIT", "sk": sort_key, **codec.audit_to_dict(event)})

    def list_audit_events(self, *, cursor: str | None = None, limit: int = 50) -> Page[AuditEvent]:
        """Return audit events newest first (one query per page)."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": "AUDIT"},
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = {"pk": "AUDIT", "sk": cursor}
        with self._calls("reading the audit trail"):
            items = self.table.query(**kwargs).get("Items", [])
        more = len(items) > limit
        items = items[:limit]
        events = [codec.audit_from_dict(_plain(i)) for i in items]
        return Page(events, str(items[-1]["sk"]) if more else None)

    def take_attempt(self, key: str, *, limit: int, window: int, now: int) -> bool:
        """Add one attempt unless ``limit`` are recorded: one conditional UpdateItem.

        The item carries ``expires_at`` (a minute after its window ends), so
        the table's TTL deletes it; reads never rely on that deletion.
        """
        if limit < 1:
            return False
        try:
            with self._calls("counting sign-in attempts"):
                self.table.update_item(
                    Key={"pk": _attempts_pk(key, window, now), "sk": "A"},
                    UpdateExpression=f"ADD hits :one SET {TTL_ATTRIBUTE} = :expires",
                    ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                    ExpressionAttributeValues={
                        ":one": 1,
                        ":limit": limit,
                        ":expires": (now // window + 1) * window + 60,
                    },
                )
        except StorageError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def give_back_attempt(self, key: str, *, window: int, now: int) -> None:
        """Remove one attempt from the window, never going below zero."""
        try:
            with self._calls("giving back a sign-in attempt"):
                self.table.update_item(
                    Key={"pk": _attempts_pk(key, window, now), "sk": "A"},
                    UpdateExpression="ADD hits :minus_one",
                    ConditionExpression="hits > :zero",
                    ExpressionAttributeValues={":minus_one": -1, ":zero": 0},
                )
        except StorageError as exc:
            if not _condition_failed(exc):
                raise

    def count_attempts(self, key: str, *, window: int, now: int) -> int:
        """Count the attempts in the current window: one strongly consistent read."""
        with self._calls("counting sign-in attempts"):
            response = self.table.get_item(
                Key={"pk": _attempts_pk(key, window, now), "sk": "A"}, ConsistentRead=True
            )
        item = response.get("Item")
        return int(_plain(item)["hits"]) if item else 0

    # -- API tokens ------------------------------------------------------------

    @staticmethod
    def _token_keys(token: ApiToken) -> tuple[tuple[str, str], tuple[str, str]]:
        by_hash = (f"TOKEN#{token.token_hash}", "TOKEN")
        by_account = (
            f"USER#{token.email}",
            f"TOKEN#{token.created_on.isoformat()}#{token.token_hash}",
        )
        return by_hash, by_account

    def _write_token(self, token: ApiToken, condition: str, doing: str) -> None:
        fields = codec.api_token_to_dict(token)
        (pk, sk), (list_pk, list_sk) = self._token_keys(token)
        primary = self._put(pk, sk, fields)
        primary["ConditionExpression"] = condition
        actions: list[Any] = [{"Put": primary}, {"Put": self._put(list_pk, list_sk, fields)}]
        with self._calls(doing):
            self.table.meta.client.transact_write_items(TransactItems=actions)

    def add_api_token(self, token: ApiToken) -> None:
        """Store a new API token: one transaction of two items, conditional on the hash."""
        try:
            self._write_token(token, "attribute_not_exists(pk)", "storing an API token")
        except StorageError as exc:
            if _cancel_reasons(exc):
                raise AlreadyExists("An API token with the same hash exists.") from exc
            raise

    def get_api_token(self, token_hash: str) -> ApiToken:
        """Return one API token (one strongly consistent read: revocation applies at once)."""
        with self._calls("reading an API token"):
            item = self.table.get_item(
                Key={"pk": f"TOKEN#{token_hash}", "sk": "TOKEN"}, ConsistentRead=True
            ).get("Item")
        if item is None:
            raise NotFound("There is no such API token.")
        return codec.api_token_from_dict(_plain(item))

    def list_api_tokens(self, email: str) -> list[ApiToken]:
        """Return an account's API tokens, oldest first (one query)."""
        return [codec.api_token_from_dict(i) for i in self._query(f"USER#{email}", "TOKEN#")]

    def put_api_token(self, token: ApiToken) -> None:
        """Replace an existing API token and its listing copy (one transaction)."""
        try:
            self._write_token(token, "attribute_exists(pk)", "updating an API token")
        except StorageError as exc:
            if _cancel_reasons(exc):
                raise NotFound("There is no such API token.") from exc
            raise

    # -- result aggregates -----------------------------------------------------

    def put_snapshot(self, snapshot: aggregates.Snapshot, *, replaces: str | None = None) -> bool:
        """Write cells and texts (batches of 25), switch the pointer, then drop the old ones.

        Until the pointer is switched the new items are unreachable, so an
        interruption leaves the previous snapshot's cells and texts in force.
        With ``replaces`` the switch is one conditional write on the pointer
        (its snapshot id must still be that one); if refused, the new items are
        deleted again and nothing changes.
        """
        slug, wave_id = snapshot.survey_slug, snapshot.wave_id
        pk = _snapshot_pk(slug, wave_id, snapshot.snapshot_id)
        texts_pk = _comments_pk(slug, wave_id, snapshot.snapshot_id)
        rows = [(code, codec.snapshot_cell_text(cell)) for code, cell in snapshot.cells.items()]
        with self._calls("storing result aggregates"), self.table.batch_writer() as batch:
            for code, text in rows:
                batch.put_item(Item={"pk": pk, "sk": code, "agg": text})
            for code, texts in (snapshot.comments or {}).items():
                text = codec.snapshot_comments_text(texts)
                batch.put_item(Item={"pk": texts_pk, "sk": code, "txt": text})
        head_key = {"pk": f"SURVEY#{snapshot.survey_slug}", "sk": f"AGGHEAD#{snapshot.wave_id}"}
        condition: dict[str, Any] = {}
        if replaces == NO_SNAPSHOT:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        elif replaces is not None:
            condition = {
                "ConditionExpression": "snapshot_id = :replaces",
                "ExpressionAttributeValues": {":replaces": replaces},
            }
        try:
            with self._calls("switching to new result aggregates"):
                previous = self.table.put_item(
                    Item={
                        **head_key,
                        "snapshot_id": snapshot.snapshot_id,
                        "computed_at": snapshot.computed_at.isoformat(),
                        # Lets a reader that decoded these cells skip reading them again.
                        "digest": codec.snapshot_digest(rows),
                    },
                    ReturnValues="ALL_OLD",
                    **condition,
                ).get("Attributes")
        except StorageError as exc:
            if not _condition_failed(exc):
                raise
            self._drop_snapshot_items(pk, texts_pk)
            return False
        if previous and previous.get("snapshot_id") != snapshot.snapshot_id:
            old_id = str(previous["snapshot_id"])
            old = _snapshot_pk(slug, wave_id, old_id)
            old_texts = _comments_pk(slug, wave_id, old_id)
            self._drop_snapshot_items(old, old_texts)
        return True

    def _drop_snapshot_items(self, cells_pk: str, texts_pk: str) -> None:
        """Delete a snapshot's cells and texts."""
        # A department has texts only if it has a cell, so the cells name every texts
        # item: deleting by key never reads the (large) texts.
        with self._calls("removing old result aggregates"), self.table.batch_writer() as batch:
            for item in self._query(cells_pk):
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                batch.delete_item(Key={"pk": texts_pk, "sk": item["sk"]})

    def get_snapshot(self, survey_slug: str, wave_id: str) -> aggregates.Snapshot | None:
        """Return the current snapshot: one read for the pointer, one query for the cells.

        The query is left out when this process still holds the cells the
        pointer's digest names, decoded (``codec.decoded_snapshot``); a pointer
        written before digests were kept always has its cells read.
        """
        head = self._snapshot_head(survey_slug, wave_id)
        if head is None:
            return None
        snapshot_id = str(head["snapshot_id"])
        if "digest" in head:
            known = codec.decoded_snapshot(
                survey_slug, wave_id, snapshot_id, str(head["computed_at"]), str(head["digest"])
            )
            if known is not None:
                return known
        items = self._query(_snapshot_pk(survey_slug, wave_id, snapshot_id))
        rows = [(str(i["sk"]), str(i["agg"])) for i in items]
        return codec.snapshot_from_rows(
            survey_slug, wave_id, snapshot_id, str(head["computed_at"]), rows
        )

    def get_snapshot_comments(
        self, survey_slug: str, wave_id: str, department: str
    ) -> aggregates.DepartmentComments:
        """Return one department's texts: one read for the pointer, one for its texts item."""
        head = self._snapshot_head(survey_slug, wave_id)
        if head is None:
            return aggregates.DepartmentComments(None)
        snapshot_id = str(head["snapshot_id"])
        with self._calls("reading result comments"):
            item = self.table.get_item(
                Key={"pk": _comments_pk(survey_slug, wave_id, snapshot_id), "sk": department}
            ).get("Item")
        return codec.snapshot_comments_from_text(
            snapshot_id, None if item is None else str(item["txt"])
        )

    def _snapshot_head(self, survey_slug: str, wave_id: str) -> dict[str, Any] | None:
        """Return the wave's snapshot pointer item, or ``None`` before the first one."""
        with self._calls("reading result aggregates"):
            head: dict[str, Any] | None = self.table.get_item(
                Key={"pk": f"SURVEY#{survey_slug}", "sk": f"AGGHEAD#{wave_id}"}
            ).get("Item")
        return head

    # -- reinforcement plans and scorecard settings ------------------------------

    def put_plan_action(self, action: PlanAction) -> None:
        """Create or replace a plan action (one write)."""
        with self._calls("storing a plan action"):
            self.table.put_item(
                Item={
                    **_plan_key(action.survey_slug, action.department, action.action_id),
                    **_without_none(codec.plan_action_to_dict(action)),
                }
            )

    def get_plan_action(self, survey_slug: str, department: str, action_id: str) -> PlanAction:
        """Return one plan action (one read)."""
        with self._calls("reading a plan action"):
            item = self.table.get_item(Key=_plan_key(survey_slug, department, action_id)).get(
                "Item"
            )
        if item is None:
            raise NotFound(f"Survey {survey_slug!r} has no plan action {action_id!r} there.")
        return codec.plan_action_from_dict(_plain(item))

    def list_plan_actions(
        self, survey_slug: str, department: str | None = None
    ) -> list[PlanAction]:
        """Return a survey's (or one department's) plan actions in plan order (one query)."""
        prefix = "PLAN#" if department is None else f"PLAN#{department}#"
        items = self._query(f"SURVEY#{survey_slug}", prefix)
        return sorted((codec.plan_action_from_dict(i) for i in items), key=plan_order)

    def delete_plan_action(self, survey_slug: str, department: str, action_id: str) -> None:
        """Remove a plan action (one conditional delete)."""
        try:
            with self._calls("removing a plan action"):
                self.table.delete_item(
                    Key=_plan_key(survey_slug, department, action_id),
                    ConditionExpression="attribute_exists(pk)",
                )
        except StorageError as exc:
            if _condition_failed(exc):
                raise NotFound(
                    f"Survey {survey_slug!r} has no plan action {action_id!r} there."
                ) from exc
            raise

    def get_scorecard_settings(self, survey_slug: str) -> ScorecardSettings:
        """Return the survey's scorecard settings, or the defaults (one read)."""
        with self._calls("reading scorecard settings"):
            item = self.table.get_item(Key={"pk": f"SURVEY#{survey_slug}", "sk": "SCORECARD"}).get(
                "Item"
            )
        if item is None:
            return ScorecardSettings(survey_slug)
        return codec.scorecard_settings_from_dict(_plain(item))

    def put_scorecard_settings(self, settings: ScorecardSettings) -> None:
        """Create or replace a survey's scorecard settings (one write)."""
        with self._calls("storing scorecard settings"):
            self.table.put_item(
                Item={
                    "pk": f"SURVEY#{settings.survey_slug}",
                    "sk": "SCORECARD",
                    **codec.scorecard_settings_to_dict(settings),
                }
            )

    # -- helpers -----------------------------------------------------------

    def _query(
        self, pk: str, prefix: str | None = None, *, consistent: bool = False
    ) -> list[dict[str, Any]]:
        """Return every item of a partition (optionally an ``sk`` prefix), all pages."""
        expression = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else "")
        values: dict[str, Any] = {":pk": pk}
        if prefix:
            values[":prefix"] = prefix
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if consistent:
            kwargs["ConsistentRead"] = True
        found: list[dict[str, Any]] = []
        while True:
            with self._calls("querying"):
                page = self.table.query(**kwargs)
            found.extend(_plain(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _cancel_reasons(exc: StorageError) -> list[dict[str, Any]]:
    """Return a cancelled transaction's per-item reasons (empty for other failures)."""
    cause = exc.__cause__
    if not isinstance(cause, ClientError):
        return []
    if cause.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    reasons: list[dict[str, Any]] = cause.response.get("CancellationReasons", [])
    if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
        return reasons
    return []


def _plan_key(survey_slug: str, department: str, action_id: str) -> dict[str, str]:
    return {"pk": f"SURVEY#{survey_slug}", "sk": f"PLAN#{department}#{action_id}"}


def _snapshot_pk(survey_slug: str, wave_id: str, snapshot_id: str) -> str:
    return f"AGG#{survey_slug}#{wave_id}#{snapshot_id}"


def _comments_pk(survey_slug: str, wave_id: str, snapshot_id: str) -> str:
    return f"AGGTXT#{survey_slug}#{wave_id}#{snapshot_id}"


def _response_pk(survey_slug: str, wave_id: str) -> str:
    return f"RESP#{survey_slug}#{wave_id}"


def _attempts_pk(key: str, window: int, now: int) -> str:
    return f"ATTEMPTS#{key}#{now // window}"


def _without_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _condition_failed(exc: StorageError) -> bool:
    cause = exc.__cause__
    return (
        isinstance(cause, ClientError)
        and cause.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )
