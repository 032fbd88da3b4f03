"""Typed, copy-on-write databases with a cheap canonical digest.

A domain database is a pydantic model whose fields are *tables*
(``dict[str, Record]``) or plain values. The pristine database is parsed
once into a :class:`Snapshot`; every episode works on a :meth:`Snapshot.fork`,
which shares the snapshot's records and copies a record only when a tool
asks to change it (:meth:`DB.edit`). Forking is therefore O(number of
tables), and the set of changed records is always known, so two forks of the
same snapshot are compared by looking only at what changed.

The canonical digest (canon v1, see ``docs``/SEMANTICS §1.4) is defined on
the whole database, but the snapshot caches each record's canonical bytes,
so a fork's full digest costs one SHA-256 pass over cached bytes plus the
changed records.

Invariant: tools never mutate a record obtained by reading (``db.users[k]``)
without first calling ``db.edit``; the test-suite checks after every gold
replay that the snapshot's digest did not move.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError
from pydantic_core import PydanticSerializationError

from toolgym._io import decode_text, parse_json, read_bytes
from toolgym.errors import DataError

__all__ = ["DB", "Snapshot", "canon", "canonical_digest", "canonical_json"]


def canon(x: Any) -> Any:
    """Canonicalise a JSON-like value (canon v1): floats rounded, nulls dropped."""
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, int | float):
        return round(float(x), 6)
    if isinstance(x, dict):
        return {str(k): canon(v) for k, v in x.items() if v is not None}
    if isinstance(x, list | tuple):
        return [canon(v) for v in x]
    if isinstance(x, BaseModel):
        return canon(x.model_dump(mode="json"))
    return str(x)


def canonical_json(x: Any) -> str:
    """Serialise ``canon(x)`` the canonical way (sorted keys, compact, UTF-8)."""
    return json.dumps(canon(x), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_digest(x: Any) -> str:
    """SHA-256 hex digest of :func:`canonical_json` — the reference definition."""
    return hashlib.sha256(canonical_json(x).encode("utf-8")).hexdigest()


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


RecordT = TypeVar("RecordT", bound=BaseModel)


class DB(BaseModel):
    """Base class for a domain database.

    Subclasses declare tables as ``dict[str, SomeRecord]`` fields. Work on a
    fork; call :meth:`edit` before changing a record, :meth:`insert` to add
    one and :meth:`delete` to remove one.
    """

    model_config = ConfigDict(validate_assignment=False, extra="forbid")

    #: Names of the fields that are tables; computed once per class.
    _table_names: ClassVar[tuple[str, ...]] = ()

    #: Copy records by re-validating their dump (several times faster than a
    #: deep copy). Only exact for plain-data records: no field aliases,
    #: excluded fields, private attributes or transforming validators. The
    #: built-in domains set it; custom domains keep the safe deep copy.
    fast_record_copy: ClassVar[bool] = False

    _base: Snapshot[Any] | None = PrivateAttr(default=None)
    _dirty: dict[str, set[str]] = PrivateAttr(default_factory=dict)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        tables = []
        for name, field in cls.model_fields.items():
            ann = field.annotation
            if typing.get_origin(ann) is dict:
                args = typing.get_args(ann)
                if len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
                    tables.append(name)
        cls._table_names = tuple(tables)

    # -- loading and saving -------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> typing.Self:
        """Load and validate a ``db.json`` file; errors name the file and field."""
        path = Path(path)
        data = read_bytes(path, "database file")
        try:
            # pydantic's own JSON parser is faster than json.loads + validation.
            return cls.model_validate_json(data)
        except ValidationError:
            pass  # re-parse below for a precise message (encoding, syntax, depth or field)
        raw = parse_json(decode_text(data, str(path), "database file"), str(path))
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<data>") -> typing.Self:
        """Validate a plain dict as this database type."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
            raise DataError(f"{source}: field {loc}: {err['msg']}{more}") from None

    def to_dict(self) -> dict[str, Any]:
        """The database as a plain JSON-ready dict in the saved field order."""
        return self.model_dump(mode="json")

    def save(self, path: str | Path) -> None:
        """Write the database in the tau2 ``db.json`` format."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")

    # -- copy-on-write editing ---------------------------------------------
    @classmethod
    def table_names(cls) -> tuple[str, ...]:
        """Names of the table fields (``dict[str, Record]``)."""
        return cls._table_names

    def table(self, name: str) -> dict[str, Any]:
        """The table ``name`` (a dict of records)."""
        value = getattr(self, name)
        assert isinstance(value, dict)
        return value

    def edit(self, table: str, key: str) -> Any:
        """Return a private, mutable copy of ``table[key]`` (KeyError if absent).

        The first edit of a record in a fork copies it; later edits return the
        same copy. The record is marked as changed.
        """
        records = self.table(table)
        record = records[key]
        changed = self._dirty.setdefault(table, set())
        if key not in changed:
            record = (_copy_record(record) if self.fast_record_copy
                      else record.model_copy(deep=True))
            records[key] = record
            changed.add(key)
        return record

    def insert(self, table: str, key: str, record: BaseModel) -> None:
        """Add (or replace) a record; new keys go to the end of the table."""
        self.table(table)[key] = record
        self._dirty.setdefault(table, set()).add(key)

    def delete(self, table: str, key: str) -> None:
        """Remove a record."""
        del self.table(table)[key]
        self._dirty.setdefault(table, set()).add(key)

    def set_value(self, field: str, value: Any) -> None:
        """Replace a non-table field (marks it changed)."""
        setattr(self, field, value)
        self._dirty.setdefault("", set()).add(field)

    def changed(self) -> dict[str, set[str]]:
        """Keys changed since the fork, per table (``""`` holds non-table fields)."""
        return {t: set(keys) for t, keys in self._dirty.items() if keys}

    # -- digests ------------------------------------------------------------
    def digest(self) -> str:
        """Canonical digest (canon v1) of the whole database.

        On a fork this reuses the snapshot's cached canonical bytes for every
        unchanged record; on a standalone DB it computes everything.
        """
        if self._base is not None:
            return self._base.digest_of(self)
        return canonical_digest(self.to_dict())

    def same_state(self, other: DB) -> bool:
        """Whether two databases have the same canonical content.

        Forks of one snapshot are compared on their changed records only.
        """
        if self._base is not None and self._base is other._base:
            return self._base.compare(self, other)
        return self.digest() == other.digest()

    def diff(self, other: DB) -> list[dict[str, Any]]:
        """Records whose canonical content differs: ``{table, key, self, other}``.

        ``self``/``other`` are the plain records (``None`` when absent).
        """
        out: list[dict[str, Any]] = []
        if self._base is not None and self._base is other._base:
            candidates = _union_changed(self, other)
        else:
            candidates = {t: set(self.table(t)) | set(other.table(t)) for t in self.table_names()}
            candidates[""] = {f for f in type(self).model_fields if f not in self.table_names()}
        for table, keys in sorted(candidates.items()):
            for key in sorted(keys):
                a, b = _record(self, table, key), _record(other, table, key)
                if canonical_json(a) != canonical_json(b):
                    out.append({"table": table or None, "key": key, "self": a, "other": b})
        return out


def _copy_record(record: BaseModel) -> BaseModel:
    """A deep copy of a pristine plain-data record (see ``DB.fast_record_copy``).

    Re-validating the record's own dump is several times faster than
    ``copy.deepcopy`` for nested records (a flight with 30 dates: 0.1 ms vs
    0.6 ms). It is exact for plain-data records because only snapshot
    records are copied, and those were validated when the snapshot was built.
    """
    return type(record).model_validate(record.model_dump(round_trip=True))


def _same_dump(a: BaseModel, b: BaseModel) -> bool:
    """Whether two records serialise identically (False when unsure)."""
    try:
        return a.model_dump_json() == b.model_dump_json()
    except (PydanticSerializationError, ValueError):
        # e.g. a lone surrogate an agent put in a string: let the canonical
        # comparison decide.
        return False


def _record(db: DB, table: str, key: str) -> Any:
    if table == "":
        return _dump(getattr(db, key))
    rec = db.table(table).get(key)
    return None if rec is None else _dump(rec)


def _union_changed(a: DB, b: DB) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for db in (a, b):
        for table, keys in db.changed().items():
            out.setdefault(table, set()).update(keys)
    return out


DBT = TypeVar("DBT", bound=DB)


class Snapshot(Generic[DBT]):
    """An immutable, parsed database from which episodes fork.

    Holds the pristine DB and a lazily built cache of each record's canonical
    JSON, so digests of forks are cheap.
    """

    def __init__(self, db: DBT) -> None:
        self._db = db
        self._cache: dict[str, dict[str, str]] | None = None
        self._values: dict[str, str] | None = None
        self._digest: str | None = None

    @property
    def db_type(self) -> type[DBT]:
        """The database class."""
        return type(self._db)

    def fork(self) -> DBT:
        """A fresh working database sharing this snapshot's records."""
        src = self._db
        data: dict[str, Any] = {}
        for name in type(src).model_fields:
            value = getattr(src, name)
            data[name] = dict(value) if name in src.table_names() else value
        db = type(src).model_construct(**data)
        db._base = self
        db._dirty = {}
        return typing.cast(DBT, db)

    def to_dict(self) -> dict[str, Any]:
        """The pristine database as a plain dict (a new object each call)."""
        return self._db.to_dict()

    # -- canonical bytes -----------------------------------------------------
    def _build_cache(self) -> None:
        cache: dict[str, dict[str, str]] = {}
        for table in self._db.table_names():
            cache[table] = {k: canonical_json(_dump(v)) for k, v in self._db.table(table).items()}
        values = {
            f: canonical_json(_dump(getattr(self._db, f)))
            for f in type(self._db).model_fields
            if f not in self._db.table_names()
        }
        self._cache, self._values = cache, values

    def verify(self) -> bool:
        """Recompute the pristine digest from scratch and compare with the cached one.

        A ``False`` means a tool changed a shared record in place (it forgot
        ``DB.edit``): the copy-on-write invariant is broken.
        """
        return canonical_digest(self._db.to_dict()) == self.digest()

    def warm(self) -> None:
        """Build the canonical-bytes cache now (otherwise on first digest)."""
        if self._cache is None:
            self._build_cache()

    def digest(self) -> str:
        """Canonical digest of the pristine database."""
        if self._digest is None:
            self._digest = self.digest_of(self.fork())
        return self._digest

    def digest_of(self, db: DB) -> str:
        """Canonical digest of a fork, streaming cached record bytes."""
        self.warm()
        assert self._cache is not None and self._values is not None
        changed = db.changed()
        h = hashlib.sha256()
        fields = sorted(type(db).model_fields)
        h.update(b"{")
        first_field = True
        for name in fields:
            body: Iterable[str]
            if name in db.table_names():
                body = self._table_json(db, name, changed.get(name, set()))
            else:
                if name in changed.get("", set()):
                    value = canonical_json(_dump(getattr(db, name)))
                else:
                    value = self._values[name]
                if value == "null":
                    continue
                body = [value]
            if not first_field:
                h.update(b",")
            first_field = False
            h.update(json.dumps(name).encode())
            h.update(b":")
            for chunk in body:
                h.update(chunk.encode("utf-8"))
        h.update(b"}")
        return h.hexdigest()

    def _table_json(self, db: DB, table: str, changed: set[str]) -> Iterator[str]:
        assert self._cache is not None
        cached = self._cache[table]
        records = db.table(table)
        yield "{"
        first = True
        for key in sorted(records):
            value = (
                canonical_json(_dump(records[key]))
                if key in changed or key not in cached
                else cached[key]
            )
            if not first:
                yield ","
            first = False
            yield json.dumps(key, ensure_ascii=False)
            yield ":"
            yield value
        yield "}"

    def compare(self, a: DB, b: DB) -> bool:
        """Equality of two forks, looking only at records either one changed."""
        for table, keys in _union_changed(a, b).items():
            for key in keys:
                if table:
                    ma, mb = a.table(table).get(key), b.table(table).get(key)
                    if ma is mb:
                        continue  # the same (shared, unchanged) record object
                    # Identical JSON dumps (pydantic's fast serializer) imply
                    # identical canonical forms; only differing dumps need the
                    # int/float-insensitive canonical comparison.
                    if ma is not None and mb is not None and _same_dump(ma, mb):
                        continue
                ra, rb = _record(a, table, key), _record(b, table, key)
                if canonical_json(ra) != canonical_json(rb):
                    return False
        return True


def iter_records(db: DB) -> Iterable[tuple[str, str, Any]]:
    """Yield ``(table, key, record)`` for every record of every table."""
    for table in db.table_names():
        for key, rec in db.table(table).items():
            yield table, key, rec
