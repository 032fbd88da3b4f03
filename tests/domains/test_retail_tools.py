"""Tests for the retail database and toolkit against SEMANTICS §3 and §5.

Expected values are written out by hand from the shipped ``retail/db.json``
(prices, balances and ids quoted in comments), so a behaviour change shows up
as a concrete number or text mismatch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from toolgym.domains import Snapshot, ToolKind, canonical_digest
from toolgym.domains.retail._db import GiftCard, Order, PaymentEntry, RetailDB, User
from toolgym.domains.retail._tools import RetailTools
from toolgym.errors import DataError


@pytest.fixture(scope="module")
def retail_dir(tau2_retail_dir: Path) -> Path:
    """../shared/tau2/retail (skips, or fails under TOOLGYM_REQUIRE_SHARED=1, if absent)."""
    return tau2_retail_dir


@pytest.fixture(scope="module")
def raw_db(retail_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((retail_dir / "db.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def snapshot(retail_dir: Path) -> Snapshot[RetailDB]:
    return Snapshot(RetailDB.load(retail_dir / "db.json"))


@pytest.fixture
def tools(snapshot: Snapshot[RetailDB]) -> RetailTools:
    return RetailTools(snapshot.fork())


def ok(tools: RetailTools, name: str, **args: Any) -> Any:
    """Call a tool that must succeed; decode JSON output where there is some."""
    result = tools.call(name, args)
    assert not result.error, result.content
    try:
        return json.loads(result.content)
    except json.JSONDecodeError:
        return result.content


def err(tools: RetailTools, name: str, **args: Any) -> str:
    """Call a tool that must fail; return the agent-visible text."""
    result = tools.call(name, args)
    assert result.error, result.content
    return result.content


def order(tools: RetailTools, order_id: str) -> Order:
    return tools.db.orders[order_id]


def balance(tools: RetailTools, user_id: str, card_id: str) -> float:
    card = tools.db.users[user_id].payment_methods[card_id]
    assert isinstance(card, GiftCard)
    return card.balance


# -- database --------------------------------------------------------------------
def test_load_is_lossless(
    retail_dir: Path, raw_db: dict[str, Any], snapshot: Snapshot[RetailDB], tmp_path: Path
) -> None:
    db = RetailDB.load(retail_dir / "db.json")
    expected = canonical_digest(raw_db)
    assert db.digest() == expected
    assert snapshot.digest() == expected
    out = tmp_path / "db.json"
    db.save(out)
    assert RetailDB.load(out).digest() == expected
    assert canonical_digest(json.loads(out.read_text(encoding="utf-8"))) == expected
    assert (len(db.products), len(db.users), len(db.orders)) == (50, 500, 1000)


def test_dump_field_order_and_nulls(snapshot: Snapshot[RetailDB]) -> None:
    data = snapshot.to_dict()
    assert list(data) == ["products", "users", "orders"]
    rec = data["orders"]["#W2611340"]
    assert list(rec) == [
        "order_id", "user_id", "address", "items", "status", "fulfillments",
        "payment_history", "cancel_reason", "exchange_items", "exchange_new_items",
        "exchange_payment_method_id", "exchange_price_difference", "return_items",
        "return_payment_method_id",
    ]  # fmt: skip
    assert rec["cancel_reason"] is None and rec["return_items"] is None
    assert list(rec["address"]) == ["address1", "address2", "city", "country", "state", "zip"]
    assert list(rec["items"][0]) == ["name", "product_id", "item_id", "price", "options"]
    user = data["users"]["noah_brown_6181"]
    assert list(user) == ["user_id", "name", "address", "email", "payment_methods", "orders"]
    assert list(user["payment_methods"]) == ["paypal_5727330", "credit_card_7815826"]
    assert list(user["payment_methods"]["credit_card_7815826"]) == [
        "source", "id", "brand", "last_four",
    ]  # fmt: skip
    assert data["users"]["lucas_martin_4549"]["payment_methods"]["gift_card_7728021"] == {
        "source": "gift_card",
        "id": "gift_card_7728021",
        "balance": 68.0,
    }
    variant = data["products"]["9523456873"]["variants"]["9612497925"]
    assert list(variant) == ["item_id", "options", "available", "price"]


def test_load_rejects_bad_records(raw_db: dict[str, Any]) -> None:
    bad = json.loads(json.dumps(raw_db))
    bad["orders"]["#W2611340"]["status"] = "shipped"
    with pytest.raises(DataError, match="status"):
        RetailDB.from_dict(bad)
    bad = json.loads(json.dumps(raw_db))
    bad["users"]["noah_brown_6181"]["payment_methods"]["paypal_5727330"]["source"] = "cash"
    with pytest.raises(DataError):
        RetailDB.from_dict(bad)
    bad = json.loads(json.dumps(raw_db))
    bad["orders"]["#W2611340"]["surprise"] = 1
    with pytest.raises(DataError, match="surprise"):
        RetailDB.from_dict(bad)


# -- the toolkit's surface ---------------------------------------------------------
SPEC_PARAMS: dict[str, list[str]] = {
    "cancel_pending_order": ["order_id", "reason"],
    "modify_pending_order_address": [
        "order_id", "address1", "address2", "city", "state", "country", "zip",
    ],
    "modify_user_address": ["user_id", "address1", "address2", "city", "state", "country", "zip"],
    "modify_pending_order_items": ["order_id", "item_ids", "new_item_ids", "payment_method_id"],
    "modify_pending_order_payment": ["order_id", "payment_method_id"],
    "exchange_delivered_order_items": [
        "order_id", "item_ids", "new_item_ids", "payment_method_id",
    ],
    "return_delivered_order_items": ["order_id", "item_ids", "payment_method_id"],
    "find_user_id_by_email": ["email"],
    "find_user_id_by_name_zip": ["first_name", "last_name", "zip"],
    "get_user_details": ["user_id"],
    "get_order_details": ["order_id"],
    "get_product_details": ["product_id"],
    "get_item_details": ["item_id"],
    "list_all_product_types": [],
    "calculate": ["expression"],
    "transfer_to_human_agents": ["summary"],
}  # fmt: skip
WRITE_TOOLS = {
    "cancel_pending_order",
    "modify_pending_order_address",
    "modify_user_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "exchange_delivered_order_items",
    "return_delivered_order_items",
}


def test_tool_names_kinds_and_schemas() -> None:
    specs = RetailTools.tool_specs()
    assert set(specs) == set(SPEC_PARAMS)
    for name, (kind, description, params) in specs.items():
        if name in WRITE_TOOLS:
            assert kind is ToolKind.WRITE, name
        elif name in ("calculate", "transfer_to_human_agents"):
            assert kind is ToolKind.GENERIC, name
        else:
            assert kind is ToolKind.READ, name
        assert description, name
        assert list(params["properties"]) == SPEC_PARAMS[name], name
        assert params["required"] == SPEC_PARAMS[name], name
        for pname, prop in params["properties"].items():
            assert prop.get("description"), f"{name}.{pname} has no description"
    items = specs["modify_pending_order_items"][2]["properties"]["item_ids"]
    assert items["type"] == "array" and items["items"] == {"type": "string"}


def test_call_boundary_errors(tools: RetailTools) -> None:
    assert err(tools, "no_such_tool") == "Error: Tool 'no_such_tool' not found."
    assert err(tools, "get_order_details", order_id="#W2611340", extra=1).startswith("Error: ")
    assert err(tools, "get_order_details").startswith("Error: ")


# -- read and generic tools ----------------------------------------------------------
def test_lookups(tools: RetailTools, raw_db: dict[str, Any]) -> None:
    assert ok(tools, "find_user_id_by_email", email="NOAH.Brown7922@example.com") == (
        "noah_brown_6181"
    )
    assert err(tools, "find_user_id_by_email", email="nobody@example.com") == (
        "Error: User not found"
    )
    assert ok(tools, "find_user_id_by_name_zip", first_name="noah", last_name="BROWN", zip="80279")
    assert err(
        tools, "find_user_id_by_name_zip", first_name="Noah", last_name="Brown", zip="80278"
    ) == ("Error: User not found")
    user = ok(tools, "get_user_details", user_id="noah_brown_6181")
    assert canonical_digest(user) == canonical_digest(raw_db["users"]["noah_brown_6181"])
    assert err(tools, "get_user_details", user_id="nobody") == "Error: User not found"
    assert err(tools, "get_order_details", order_id="W2611340") == "Error: Order not found"
    assert err(tools, "get_order_details", order_id=["#W2611340"]) == "Error: Order not found"
    product = ok(tools, "get_product_details", product_id="9523456873")
    assert product["name"] == "T-Shirt" and "5047954489" in product["variants"]
    # An item id is not a product id.
    assert err(tools, "get_product_details", product_id="9612497925") == (
        "Error: Product not found"
    )
    assert ok(tools, "get_item_details", item_id="5047954489") == {
        "item_id": "5047954489",
        "options": {"color": "blue", "size": "S", "material": "polyester", "style": "v-neck"},
        "available": False,
        "price": 54.84,
    }
    assert err(tools, "get_item_details", item_id="9523456873") == "Error: Item not found"


def test_order_output_is_exact_json(tools: RetailTools) -> None:
    text = tools.call("get_order_details", {"order_id": "#W2611340"}).content
    assert text.startswith('{"order_id": "#W2611340", "user_id": "james_li_5688", "address": {')
    assert text.endswith(
        '"payment_history": [{"transaction_type": "payment", "amount": 536.65, '
        '"payment_method_id": "gift_card_1725971"}], "cancel_reason": null, '
        '"exchange_items": null, "exchange_new_items": null, '
        '"exchange_payment_method_id": null, "exchange_price_difference": null, '
        '"return_items": null, "return_payment_method_id": null}'
    )


def test_list_all_product_types(tools: RetailTools, raw_db: dict[str, Any]) -> None:
    text = tools.call("list_all_product_types", {}).content
    types = json.loads(text)
    assert list(types) == sorted(types) and len(types) == 50
    assert types["T-Shirt"] == "9523456873"
    assert text == json.dumps(
        dict(sorted((p["name"], pid) for pid, p in raw_db["products"].items()))
    )


def test_generic_tools(tools: RetailTools) -> None:
    assert tools.call("calculate", {"expression": "2 / 3"}).content == "0.67"
    assert tools.call("calculate", {"expression": "(1 + 2) * 3"}).content == "9.0"
    assert err(tools, "calculate", expression="2 ^ 3") == (
        "Error: Invalid characters in expression"
    )
    assert err(tools, "calculate", expression="1 / 0") == "Error: division by zero"
    assert tools.call("transfer_to_human_agents", {"summary": "x"}).content == (
        "Transfer successful"
    )
    assert not tools.db.changed()


# -- cancel_pending_order --------------------------------------------------------------
def test_cancel_gift_card_order(tools: RetailTools) -> None:
    # #W6779827: pending, paid 4079.45 by gift_card_7219486 (balance 49.0).
    out = ok(tools, "cancel_pending_order", order_id="#W6779827", reason="ordered by mistake")
    assert out["status"] == "cancelled" and out["cancel_reason"] == "ordered by mistake"
    assert out["payment_history"] == [
        {
            "transaction_type": "payment",
            "amount": 4079.45,
            "payment_method_id": "gift_card_7219486",
        },
        {"transaction_type": "refund", "amount": 4079.45, "payment_method_id": "gift_card_7219486"},
    ]
    assert balance(tools, "ethan_lopez_6291", "gift_card_7219486") == 4128.45


def test_cancel_credit_card_order_touches_no_user(tools: RetailTools) -> None:
    ok(tools, "cancel_pending_order", order_id="#W9093821", reason="no longer needed")
    assert tools.db.changed() == {"orders": {"#W9093821"}}
    assert order(tools, "#W9093821").payment_history[-1].transaction_type == "refund"


def test_cancel_errors_in_order(tools: RetailTools) -> None:
    assert err(tools, "cancel_pending_order", order_id="#W0", reason="x") == (
        "Error: Order not found"
    )
    # The status check comes before the reason check.
    assert err(tools, "cancel_pending_order", order_id="#W2611340", reason="x") == (
        "Error: Non-pending order cannot be cancelled"
    )
    assert err(tools, "cancel_pending_order", order_id="#W6779827", reason="changed mind") == (
        "Error: Invalid reason"
    )
    assert not tools.db.changed()


def test_cancel_partial_change_when_a_method_is_missing(tools: RetailTools) -> None:
    # Give #W6779827 a second payment from a method the user does not have:
    # the gift card refund of the first entry stays applied.
    tools.db.edit("orders", "#W6779827").payment_history.append(
        PaymentEntry(transaction_type="payment", amount=1.0, payment_method_id="paypal_0")
    )
    assert err(tools, "cancel_pending_order", order_id="#W6779827", reason="no longer needed") == (
        "Error: Payment method not found"
    )
    assert balance(tools, "ethan_lopez_6291", "gift_card_7219486") == 4128.45
    assert order(tools, "#W6779827").status == "pending"


# -- modify_pending_order_address / modify_user_address --------------------------------
ADDRESS = {
    "address1": "1 Main St",
    "address2": "",
    "city": "Austin",
    "state": "TX",
    "country": "USA",
    "zip": "78701",
}


def test_modify_order_address(tools: RetailTools, raw_db: dict[str, Any]) -> None:
    out = ok(tools, "modify_pending_order_address", order_id="#W6779827", **ADDRESS)
    assert out["address"] == {
        "address1": "1 Main St",
        "address2": "",
        "city": "Austin",
        "country": "USA",
        "state": "TX",
        "zip": "78701",
    }
    assert list(out["address"]) == ["address1", "address2", "city", "country", "state", "zip"]
    assert tools.db.changed() == {"orders": {"#W6779827"}}
    assert err(tools, "modify_pending_order_address", order_id="#W2611340", **ADDRESS) == (
        "Error: Non-pending order cannot be modified"
    )
    assert err(tools, "modify_pending_order_address", order_id="#W0", **ADDRESS) == (
        "Error: Order not found"
    )
    bad = dict(ADDRESS, zip=78701)
    assert err(tools, "modify_pending_order_address", order_id="#W9093821", **bad).startswith(
        "Error: invalid address.zip"
    )
    assert "#W9093821" not in tools.db.changed()["orders"]


def test_modify_user_address(tools: RetailTools, raw_db: dict[str, Any]) -> None:
    out = ok(tools, "modify_user_address", user_id="noah_brown_6181", **ADDRESS)
    assert out["address"]["city"] == "Austin" and out["orders"] == ["#W7678072"]
    # Orders keep their address.
    assert (
        order(tools, "#W7678072").address.model_dump() == raw_db["orders"]["#W7678072"]["address"]
    )
    assert tools.db.changed() == {"users": {"noah_brown_6181"}}
    assert err(tools, "modify_user_address", user_id="nobody", **ADDRESS) == (
        "Error: User not found"
    )


# -- modify_pending_order_items --------------------------------------------------------------
def test_modify_items_last_variant_quirk(tools: RetailTools) -> None:
    """§5.1/§5.2: every changed item gets the LAST pair's price and options."""
    # #W9318778 (lucas_martin_4549, gift_card_7728021 balance 68.0):
    # keyboard 6342039236 (244.91) -> 7867398203 (232.70);
    # wall clock 9850781806 (184.48) -> 8610532516 (203.76).
    out = ok(
        tools,
        "modify_pending_order_items",
        order_id="#W9318778",
        item_ids=["6342039236", "9850781806"],
        new_item_ids=["7867398203", "8610532516"],
        payment_method_id="gift_card_7728021",
    )
    clock = {"diameter": "10 inches", "color": "black", "type": "digital"}
    keyboard, wall_clock = out["items"][1], out["items"][2]
    assert keyboard == {
        "name": "Mechanical Keyboard",
        "product_id": "1656367028",
        "item_id": "7867398203",
        "price": 203.76,  # the clock's price, not 232.70
        "options": clock,  # the clock's options on a keyboard
    }
    assert wall_clock == {
        "name": "Wall Clock",
        "product_id": "2344688344",
        "item_id": "8610532516",
        "price": 203.76,
        "options": clock,
    }
    diff = 0.0 + (232.7 - 244.91) + (203.76 - 184.48)
    assert diff == 7.069999999999993  # unrounded, float noise kept
    assert out["payment_history"][-1] == {
        "transaction_type": "payment",
        "amount": 7.069999999999993,
        "payment_method_id": "gift_card_7728021",
    }
    assert balance(tools, "lucas_martin_4549", "gift_card_7728021") == 60.93
    assert out["status"] == "pending (item modified)"
    # The product table is not touched (the options were copied, not shared).
    assert tools.db.changed() == {"orders": {"#W9318778"}, "users": {"lucas_martin_4549"}}


def test_modify_items_refund_to_gift_card_rounds_balance_only(tools: RetailTools) -> None:
    # #W8327915 (gift_card_4855547 balance 6.0): air purifier 1327854740 (492.65)
    # -> 9534205511 (473.43): a refund of 19.21999999999997 (unrounded).
    out = ok(
        tools,
        "modify_pending_order_items",
        order_id="#W8327915",
        item_ids=["1327854740"],
        new_item_ids=["9534205511"],
        payment_method_id="gift_card_4855547",
    )
    assert out["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 19.21999999999997,
        "payment_method_id": "gift_card_4855547",
    }
    assert balance(tools, "ava_lopez_2676", "gift_card_4855547") == 25.22


def test_modify_items_zero_difference_is_a_refund_of_zero(tools: RetailTools) -> None:
    # Headphones 9838673490 and 7184044281 both cost 344.55.
    out = ok(
        tools,
        "modify_pending_order_items",
        order_id="#W5762451",
        item_ids=["9838673490"],
        new_item_ids=["7184044281"],
        payment_method_id="gift_card_4544711",
    )
    assert out["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 0.0,
        "payment_method_id": "gift_card_4544711",
    }


def test_modify_items_duplicates_walk_through_matches(tools: RetailTools) -> None:
    # #W7208030 holds garden hose 5753502325 (96.35) twice, paid by credit card.
    out = ok(
        tools,
        "modify_pending_order_items",
        order_id="#W7208030",
        item_ids=["5753502325", "5753502325"],
        new_item_ids=["8481719475", "9829827210"],
        payment_method_id="credit_card_5809636",
    )
    assert [i["item_id"] for i in out["items"]] == ["8481719475", "9829827210"]
    assert [i["price"] for i in out["items"]] == [90.43, 90.43]
    assert out["payment_history"][-1]["transaction_type"] == "refund"
    assert out["payment_history"][-1]["amount"] == 3.6599999999999824
    assert "users" not in tools.db.changed()


def test_modify_items_errors(tools: RetailTools) -> None:
    def call(**kw: Any) -> str:
        args = {
            "order_id": "#W9318778",
            "item_ids": ["6342039236"],
            "new_item_ids": ["7867398203"],
            "payment_method_id": "gift_card_7728021",
        }
        return err(tools, "modify_pending_order_items", **(args | kw))

    assert call(order_id="#W0") == "Error: Order not found"
    assert call(order_id="#W2611340") == "Error: Non-pending order cannot be modified"
    # The count check comes before the length check.
    assert call(item_ids=["1111111111"], new_item_ids=[]) == "Error: 1111111111 not found"
    assert call(item_ids=["6342039236", "6342039236"], new_item_ids=["1", "2"]) == (
        "Error: 6342039236 not found"
    )
    assert call(new_item_ids=[]) == "Error: The number of items to be exchanged should match"
    assert call(new_item_ids=["6342039236"]) == (
        "Error: The new item id should be different from the old item id"
    )
    assert call(new_item_ids=["8610532516"]) == "Error: Variant not found"  # a wall clock
    assert call(new_item_ids=["9690244451"]) == (
        "Error: New item 9690244451 not found or available"
    )
    assert call(payment_method_id="paypal_0") == "Error: Payment method not found"
    # Pairs are checked one by one, in order: a good first pair then a same-id
    # second pair fails on the second; a bad first pair fails before it.
    two = ["6342039236", "9850781806"]
    assert call(item_ids=two, new_item_ids=["7867398203", "9850781806"]) == (
        "Error: The new item id should be different from the old item id"
    )
    assert call(item_ids=two, new_item_ids=["1", "9850781806"]) == "Error: Variant not found"
    assert call(item_ids="6342039236").startswith("Error: invalid item_ids")
    assert not tools.db.changed()


def test_modify_items_insufficient_gift_card(tools: RetailTools) -> None:
    # gift_card_4855547 holds 6.0; 1327854740 (492.65) -> 8302289002 (547.55).
    assert (
        err(
            tools,
            "modify_pending_order_items",
            order_id="#W8327915",
            item_ids=["1327854740"],
            new_item_ids=["8302289002"],
            payment_method_id="gift_card_4855547",
        )
        == "Error: Insufficient gift card balance to pay for the new item"
    )
    assert not tools.db.changed()


def test_item_modified_orders_strict_vs_loose(tools: RetailTools) -> None:
    """§5.3: after an item change only address (and no payment) changes work."""
    args = {
        "order_id": "#W9318778",
        "item_ids": ["6342039236"],
        "new_item_ids": ["7867398203"],
        "payment_method_id": "credit_card_7862034",
    }
    ok(tools, "modify_pending_order_items", **args)
    assert err(tools, "modify_pending_order_items", **args) == (
        "Error: Non-pending order cannot be modified"
    )
    assert err(tools, "cancel_pending_order", order_id="#W9318778", reason="no longer needed") == (
        "Error: Non-pending order cannot be cancelled"
    )
    # Loose check passes; the new method is looked up before the history check.
    assert err(
        tools, "modify_pending_order_payment", order_id="#W9318778", payment_method_id="x"
    ) == ("Error: Payment method not found")
    assert (
        err(
            tools,
            "modify_pending_order_payment",
            order_id="#W9318778",
            payment_method_id="gift_card_7728021",
        )
        == "Error: There should be exactly one payment for a pending order"
    )
    ok(tools, "modify_pending_order_address", order_id="#W9318778", **ADDRESS)
    assert order(tools, "#W9318778").address.city == "Austin"


# -- modify_pending_order_payment ------------------------------------------------------------
def test_modify_payment_then_cancel_refunds_all_entries(tools: RetailTools) -> None:
    """§5.5: cancel refunds every entry, including the refund entry itself."""
    # #W8955613 (olivia_lopez_9494): 585.97 paid by gift_card_6682391 (35.0).
    out = ok(
        tools,
        "modify_pending_order_payment",
        order_id="#W8955613",
        payment_method_id="credit_card_6044108",
    )
    assert out["payment_history"][1:] == [
        {
            "transaction_type": "payment",
            "amount": 585.97,
            "payment_method_id": "credit_card_6044108",
        },
        {"transaction_type": "refund", "amount": 585.97, "payment_method_id": "gift_card_6682391"},
    ]
    assert out["status"] == "pending"
    assert balance(tools, "olivia_lopez_9494", "gift_card_6682391") == 620.97
    out = ok(tools, "cancel_pending_order", order_id="#W8955613", reason="no longer needed")
    assert [
        (p["transaction_type"], p["payment_method_id"]) for p in out["payment_history"][3:]
    ] == [
        ("refund", "gift_card_6682391"),
        ("refund", "credit_card_6044108"),
        ("refund", "gift_card_6682391"),
    ]
    assert balance(tools, "olivia_lopez_9494", "gift_card_6682391") == 1792.91


def test_modify_payment_to_gift_card_and_errors(tools: RetailTools) -> None:
    # #W2443586: 591.95 by paypal_7859314; gift_card_2742113 holds only 22.0.
    assert (
        err(
            tools,
            "modify_pending_order_payment",
            order_id="#W2443586",
            payment_method_id="gift_card_2742113",
        )
        == "Error: Insufficient gift card balance to pay for the order"
    )
    assert (
        err(
            tools,
            "modify_pending_order_payment",
            order_id="#W2443586",
            payment_method_id="paypal_7859314",
        )
        == "Error: The new payment method should be different from the current one"
    )
    assert err(
        tools, "modify_pending_order_payment", order_id="#W2611340", payment_method_id="x"
    ) == ("Error: Non-pending order cannot be modified")
    assert err(tools, "modify_pending_order_payment", order_id="#W0", payment_method_id="x") == (
        "Error: Order not found"
    )
    assert not tools.db.changed()
    # The loose pending check lets "pending (item modified)" through; moving
    # a 10.0 gift-card payment to a credit card credits the card back.
    tools.db.edit("orders", "#W6779827").status = "pending (item modified)"
    tools.db.edit("orders", "#W6779827").payment_history[0].amount = 10.0
    ok(
        tools,
        "modify_pending_order_payment",
        order_id="#W6779827",
        payment_method_id="credit_card_9789590",
    )
    assert balance(tools, "ethan_lopez_6291", "gift_card_7219486") == 59.0


def test_modify_payment_partial_change_when_old_method_is_gone(tools: RetailTools) -> None:
    user: User = tools.db.edit("users", "aarav_nguyen_7344")
    del user.payment_methods["paypal_7859314"]
    card = user.payment_methods["gift_card_2742113"]
    assert isinstance(card, GiftCard)
    card.balance = 1000.0
    assert (
        err(
            tools,
            "modify_pending_order_payment",
            order_id="#W2443586",
            payment_method_id="gift_card_2742113",
        )
        == "Error: Payment method not found"
    )
    # History and the new gift card were already changed.
    assert len(order(tools, "#W2443586").payment_history) == 3
    assert balance(tools, "aarav_nguyen_7344", "gift_card_2742113") == 408.05


# -- exchange_delivered_order_items -----------------------------------------------------------
def test_exchange_only_requests_and_sorts(tools: RetailTools, raw_db: dict[str, Any]) -> None:
    """§5.4: status and fields only; lists sorted independently; diff rounded."""
    # #W5866402: sneakers 9727387530 (207.75) -> 6477915553 (186.45),
    # espresso 6242772310 (2996.03) -> 3709608322 (2744.70).
    out = ok(
        tools,
        "exchange_delivered_order_items",
        order_id="#W5866402",
        item_ids=["9727387530", "6242772310"],
        new_item_ids=["6477915553", "3709608322"],
        payment_method_id="credit_card_9753331",
    )
    before = raw_db["orders"]["#W5866402"]
    assert out["status"] == "exchange requested"
    assert out["exchange_items"] == ["6242772310", "9727387530"]
    assert out["exchange_new_items"] == ["3709608322", "6477915553"]  # pairing lost
    assert out["exchange_payment_method_id"] == "credit_card_9753331"
    assert out["exchange_price_difference"] == -272.63  # -272.6300000000004 rounded
    assert out["items"] == before["items"]
    assert out["payment_history"] == before["payment_history"]
    assert tools.db.changed() == {"orders": {"#W5866402"}}
    assert (
        err(
            tools,
            "exchange_delivered_order_items",
            order_id="#W5866402",
            item_ids=["9727387530"],
            new_item_ids=["6477915553"],
            payment_method_id="credit_card_9753331",
        )
        == "Error: Non-delivered order cannot be exchanged"
    )


def test_exchange_same_item_allowed(tools: RetailTools) -> None:
    out = ok(
        tools,
        "exchange_delivered_order_items",
        order_id="#W6304490",
        item_ids=["6956751343"],
        new_item_ids=["6956751343"],
        payment_method_id="credit_card_4420174",
    )
    assert out["exchange_price_difference"] == 0.0


def test_exchange_errors(tools: RetailTools) -> None:
    def call(**kw: Any) -> str:
        args = {
            "order_id": "#W5866402",
            "item_ids": ["9727387530"],
            "new_item_ids": ["6477915553"],
            "payment_method_id": "gift_card_7794233",
        }
        return err(tools, "exchange_delivered_order_items", **(args | kw))

    assert call(order_id="#W0") == "Error: Order not found"
    assert call(order_id="#W6779827") == "Error: Non-delivered order cannot be exchanged"
    assert call(item_ids=["1"], new_item_ids=[]) == "Error: Number of 1 not found."
    assert call(new_item_ids=[]) == "Error: The number of items to be exchanged should match."
    assert call(new_item_ids=["4410138384"]) == "Error: New item 4410138384 not found or available"
    assert call(new_item_ids=["3709608322"]) == "Error: Variant not found"
    assert call(payment_method_id="gift_card_0") == "Error: Payment method not found"
    # 6242772310 (2996.03) -> 3951031513 (3289.46): 293.43 > 56.0 on the gift card.
    assert call(item_ids=["6242772310"], new_item_ids=["3951031513"]) == (
        "Error: Insufficient gift card balance to pay for the price difference"
    )
    assert not tools.db.changed()


# -- return_delivered_order_items -----------------------------------------------------------
def test_return(tools: RetailTools, raw_db: dict[str, Any]) -> None:
    # #W4250821 was paid by credit_card_8041020; the user also has
    # credit_card_6547060 and gift_card_6052478.
    def call(**kw: Any) -> str:
        args = {
            "order_id": "#W4250821",
            "item_ids": ["9970989750", "5222576926"],
            "payment_method_id": "credit_card_6547060",
        }
        return err(tools, "return_delivered_order_items", **(args | kw))

    assert call(order_id="#W0") == "Error: Order not found"
    assert call(order_id="#W6779827") == "Error: Non-delivered order cannot be returned"
    assert call(payment_method_id="paypal_0") == "Error: Payment method not found"
    # The payment check comes before the item check.
    assert call(item_ids=["1"]) == "Error: Payment method should be the original payment method"
    assert call(item_ids=["1"], payment_method_id="credit_card_8041020") == (
        "Error: Some item not found"
    )
    assert not tools.db.changed()
    # Any gift card of the user is accepted (this one did not pay for the order).
    out = ok(
        tools,
        "return_delivered_order_items",
        order_id="#W4250821",
        item_ids=["9970989750", "5222576926"],
        payment_method_id="gift_card_6052478",
    )
    assert out["status"] == "return requested"
    assert out["return_items"] == ["5222576926", "9970989750"]
    assert out["return_payment_method_id"] == "gift_card_6052478"
    assert out["payment_history"] == raw_db["orders"]["#W4250821"]["payment_history"]
    assert balance(tools, "sophia_jackson_6355", "gift_card_6052478") == 10.0
    assert tools.db.changed() == {"orders": {"#W4250821"}}


def test_return_to_original_method(tools: RetailTools) -> None:
    out = ok(
        tools,
        "return_delivered_order_items",
        order_id="#W4250821",
        item_ids=["6857426243"],
        payment_method_id="credit_card_8041020",
    )
    assert out["return_items"] == ["6857426243"]


# -- replaying every gold action ------------------------------------------------------------
# Gold actions that fail in tau2 too (§1.2): (task id, action index, tool, error
# text). The lookups are deliberate dead ends in the tasks (an item id passed as
# a product id, order ids without "W", unknown emails/zips); task 64 tries to
# exchange a pending order, and in task 105 the gift card (17.0) cannot cover
# the 21.10 difference, so its target DB is the untouched one.
EXPECTED_GOLD_FAILURES = {
    ("2", 1, "get_product_details", "Error: Product not found"),
    ("3", 1, "get_product_details", "Error: Product not found"),
    ("4", 1, "get_product_details", "Error: Product not found"),
    ("35", 0, "find_user_id_by_email", "Error: User not found"),
    ("37", 0, "find_user_id_by_email", "Error: User not found"),
    ("38", 0, "find_user_id_by_email", "Error: User not found"),
    ("39", 0, "find_user_id_by_name_zip", "Error: User not found"),
    ("46", 1, "get_order_details", "Error: Order not found"),
    ("46", 2, "get_order_details", "Error: Order not found"),
    ("47", 1, "get_order_details", "Error: Order not found"),
    ("47", 2, "get_order_details", "Error: Order not found"),
    ("54", 0, "find_user_id_by_email", "Error: User not found"),
    ("55", 0, "find_user_id_by_email", "Error: User not found"),
    ("64", 6, "exchange_delivered_order_items", "Error: Non-delivered order cannot be exchanged"),
    ("67", 0, "find_user_id_by_name_zip", "Error: User not found"),
    ("67", 1, "find_user_id_by_name_zip", "Error: User not found"),
    ("68", 0, "find_user_id_by_name_zip", "Error: User not found"),
    (
        "105",
        0,
        "exchange_delivered_order_items",
        "Error: Insufficient gift card balance to pay for the price difference",
    ),
}


def test_gold_replay(
    retail_dir: Path, raw_db: dict[str, Any], snapshot: Snapshot[RetailDB]
) -> None:
    tasks = json.loads((retail_dir / "tasks.json").read_text(encoding="utf-8"))
    assert len(tasks) == 114
    pristine = snapshot.to_dict()
    shared = snapshot.fork()  # never written: its records ARE the snapshot's
    failures: set[tuple[str, int, str, str]] = set()
    n_actions = 0
    n_written = 0
    for task in tasks:
        tools = RetailTools(snapshot.fork())
        wrote = False
        for i, action in enumerate(task["evaluation_criteria"]["actions"] or []):
            n_actions += 1
            # Any exception other than a ToolError propagates and fails the test.
            result = tools.call(action["name"], action["arguments"])
            if result.error:
                failures.add((task["id"], i, action["name"], result.content))
            elif tools.kind(action["name"]) is ToolKind.WRITE:
                wrote = True
        # Copy-on-write: the snapshot's copies of the records this task changed
        # are untouched (the whole snapshot is compared once, at the end).
        for table, keys in tools.db.changed().items():
            for key in keys:
                assert shared.table(table)[key].model_dump() == pristine[table][key]
        if wrote:
            assert tools.db.changed(), task["id"]
            # The full reference digest costs ~0.2 s on this DB: checking every
            # 8th writing task (13 of them) keeps the test well under 20 s.
            if n_written % 8 == 0:
                assert tools.db.digest() == canonical_digest(tools.db.to_dict()), task["id"]
            n_written += 1
        else:
            assert not tools.db.changed(), task["id"]
    assert n_actions == 550
    assert failures == EXPECTED_GOLD_FAILURES
    assert snapshot.to_dict() == pristine
    assert canonical_digest(snapshot.to_dict()) == canonical_digest(raw_db)
