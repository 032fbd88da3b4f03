"""toolgym's own retail data: the seeded DB generator, the policy and the tasks."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from toolgym.domains import canonical_digest, load_domain
from toolgym.domains._domain import Domain
from toolgym.domains.retail import RetailDB
from toolgym.domains.retail._builtin import load_builtin
from toolgym.domains.retail._generate import generate_retail_db

#: Canonical digest of ``generate_retail_db(0)``. The built-in tasks name ids
#: from that database, so a change here means the tasks must be rebuilt.
SEED0_DIGEST = "ba14988ad808c70567e89fc34f703dc32a93ed27e6f8533904a9a0f0d08bcc12"

WRITE_TOOLS = {
    "cancel_pending_order",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "exchange_delivered_order_items",
    "return_delivered_order_items",
}
PRIMARY_TAGS = {"write", "read-only", "refusal"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return generate_retail_db(0)


@pytest.fixture(scope="module")
def domain() -> Domain[Any]:
    return load_domain("retail")


def _drop_nulls(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_nulls(v) for v in x]
    return x


# -- generator -------------------------------------------------------------------------
def test_generated_db_validates_and_round_trips_in_tau2_field_order(raw: dict[str, Any]) -> None:
    db = RetailDB.from_dict(raw)
    # Same content *and* the same key order as the model's (tau2's) saved layout.
    assert json.dumps(_drop_nulls(db.to_dict())) == json.dumps(raw)
    assert list(raw) == ["products", "users", "orders"]


def test_same_seed_same_digest_other_seed_differs() -> None:
    a, b, c = generate_retail_db(0), generate_retail_db(0), generate_retail_db(1)
    assert canonical_digest(a) == canonical_digest(b)
    assert canonical_digest(a) != canonical_digest(c)
    assert canonical_digest(a) == SEED0_DIGEST, "seed-0 DB changed: rebuild the built-in tasks"


def test_sizes_and_id_formats(raw: dict[str, Any]) -> None:
    products, users, orders = raw["products"], raw["users"], raw["orders"]
    assert len(products) == 50 and len(users) == 500 and len(orders) == 1000
    item_ids = [i for p in products.values() for i in p["variants"]]
    assert len(item_ids) == len(set(item_ids))
    assert not set(item_ids) & set(products)
    assert len({p["name"] for p in products.values()}) == 50
    for pid, p in products.items():
        assert re.fullmatch(r"\d{10}", pid) and p["product_id"] == pid
        assert 5 <= len(p["variants"]) <= 20
        option_sets = set()
        for iid, v in p["variants"].items():
            assert re.fullmatch(r"\d{10}", iid) and v["item_id"] == iid
            assert isinstance(v["price"], float) and v["price"] > 0
            assert isinstance(v["available"], bool) and v["options"]
            option_sets.add(tuple(sorted(v["options"].items())))
        assert len(option_sets) == len(p["variants"]), "variants must differ in options"
    assert len({u["email"] for u in users.values()}) == len(users)
    name_zip = {
        (u["name"]["first_name"], u["name"]["last_name"], u["address"]["zip"])
        for u in users.values()
    }
    assert len(name_zip) == len(users), "name + zip must identify one user"
    for uid, u in users.items():
        assert u["user_id"] == uid and u["payment_methods"]
        for pm_id, pm in u["payment_methods"].items():
            assert pm["id"] == pm_id
            assert re.fullmatch(r"(credit_card|paypal|gift_card)_\d{7}", pm_id)
            assert pm_id.startswith(pm["source"])
            if pm["source"] == "gift_card":
                assert isinstance(pm["balance"], float)
    assert any(u["address"]["address2"] == "" for u in users.values())
    assert sum(len(u["orders"]) for u in users.values()) == len(orders)


def test_orders_are_consistent(raw: dict[str, Any]) -> None:
    users, products = raw["users"], raw["products"]
    statuses = Counter(o["status"] for o in raw["orders"].values())
    assert set(statuses) == {"pending", "processed", "delivered", "cancelled"}
    assert 350 <= statuses["pending"] <= 480 and 300 <= statuses["delivered"] <= 420
    assert 60 <= statuses["processed"] <= 160 and 60 <= statuses["cancelled"] <= 160
    for oid, o in raw["orders"].items():
        assert re.fullmatch(r"#W\d{7}", oid) and o["order_id"] == oid
        assert oid in users[o["user_id"]]["orders"]
        for it in o["items"]:
            variant = products[it["product_id"]]["variants"][it["item_id"]]
            assert it["name"] == products[it["product_id"]]["name"]
            assert it["price"] == variant["price"] and it["options"] == variant["options"]
        pay, *rest = o["payment_history"]
        assert pay["transaction_type"] == "payment"
        assert pay["amount"] == round(sum(it["price"] for it in o["items"]), 2)
        assert pay["payment_method_id"] in users[o["user_id"]]["payment_methods"]
        shipped = [i for f in o["fulfillments"] for i in f["item_ids"]]
        if o["status"] in ("processed", "delivered"):
            assert shipped == [it["item_id"] for it in o["items"]]
            assert all(
                re.fullmatch(r"\d{12}", t) for f in o["fulfillments"] for t in f["tracking_id"]
            )
        else:
            assert o["fulfillments"] == []
        if o["status"] == "cancelled":
            assert rest == [{**pay, "transaction_type": "refund"}]
            assert o["cancel_reason"] in ("no longer needed", "ordered by mistake")
        else:
            assert rest == [] and "cancel_reason" not in o


# -- built-in data ---------------------------------------------------------------------
def test_load_builtin_returns_seed0_db_policy_tasks_splits() -> None:
    db, policy, tasks, splits = load_builtin()
    assert canonical_digest(db) == SEED0_DIGEST
    for phrase in (
        "no longer needed",
        "ordered by mistake",
        "transfer_to_human_agents",
        "gift card",
        "only once",
    ):
        assert phrase in policy
    assert set(splits) == {"train", "test", "base"}
    assert splits["base"] == [t.id for t in tasks]


def test_task_mix_and_metadata(domain: Domain[Any]) -> None:
    tasks = domain.tasks
    assert len(tasks) >= 30
    assert len({t.id for t in tasks}) == len(tasks)
    tags = Counter(tag for t in tasks for tag in t.tags)
    assert tags["write"] >= 10 and tags["read-only"] >= 5
    assert tags["refusal"] >= 5 and tags["multi-intent"] >= 5
    for t in tasks:
        assert len(PRIMARY_TAGS & set(t.tags)) == 1, t.id
        assert t.provenance == "toolgym-builtin-v1"
        assert t.difficulty in ("easy", "medium", "hard")
        assert t.initial_state is None
        assert t.reward_basis == ["DB", "COMMUNICATE"]
        writes = [a for a in t.gold_actions if a.name in WRITE_TOOLS]
        assert bool(writes) == ("write" in t.tags), t.id
        ids = [a.action_id for a in t.gold_actions]
        assert ids == [f"{t.id}_{i}" for i in range(len(ids))]


def test_splits_are_disjoint_and_cover_all(domain: Domain[Any]) -> None:
    ids = [t.id for t in domain.tasks]
    train, test = set(domain.splits["train"]), set(domain.splits["test"])
    assert train and test and not train & test
    assert train | test == set(ids) == set(domain.splits["base"])


def test_gold_actions_replay_and_change_only_write_tasks(domain: Domain[Any]) -> None:
    snapshot = domain.snapshot
    pristine = snapshot.digest()
    for task in domain.tasks:
        db = snapshot.fork()
        toolkit = domain.toolkit(db)
        outputs = []
        for action in task.gold_actions:
            assert toolkit.kind(action.name) is not None, (task.id, action.name)
            result = toolkit.call(action.name, action.arguments)
            assert not result.error, (task.id, action.name, result.content)
            outputs.append(result.content)
        changed = db.digest() != pristine
        assert changed == ("write" in task.tags), task.id
        if "write" not in task.tags:
            # What the agent must say is in what the gold lookups return.
            text = "\n".join(outputs)
            for info in task.evaluation_criteria.communicate_info or []:
                assert info in text, (task.id, info)
    assert snapshot.digest() == pristine, "a tool mutated the shared snapshot"


def test_write_tasks_reach_the_intended_state(domain: Domain[Any]) -> None:
    # Spot-check a few targets beyond "the digest moved".
    by_tag = [t for t in domain.tasks if "write" in t.tags]
    seen: set[str] = set()
    for task in by_tag:
        db = domain.snapshot.fork()
        toolkit = domain.toolkit(db)
        for action in task.gold_actions:
            toolkit.call(action.name, action.arguments)
        for action in task.gold_actions:
            args = action.arguments
            if action.name == "cancel_pending_order":
                order = db.orders[args["order_id"]]
                assert order.status == "cancelled" and order.cancel_reason == args["reason"]
            elif action.name == "return_delivered_order_items":
                assert db.orders[args["order_id"]].status == "return requested"
            elif action.name == "exchange_delivered_order_items":
                assert db.orders[args["order_id"]].status == "exchange requested"
            elif action.name == "modify_user_address":
                assert db.users[args["user_id"]].address.zip == args["zip"]
            seen.add(action.name)
    assert seen >= WRITE_TOOLS, "every write tool is exercised by some task"
