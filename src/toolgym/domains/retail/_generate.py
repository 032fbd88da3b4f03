"""A seeded generator for toolgym's own retail database.

:func:`generate_retail_db` builds a plain dict in the tau2 retail ``db.json``
layout (``products``, ``users``, ``orders``; field order as in tau2) at the
same scale as tau2's shipped file: 50 products with a few to twenty variants
each, 500 users and 1000 orders. The catalogue, names and streets are our
own inventions.

Determinism: every random choice comes from one ``random.Random(seed)``,
using only methods whose output has been stable across CPython releases
(``random``, ``randrange``, ``choice``, ``shuffle``). Sets are used for
membership tests only, never iterated, and nothing depends on ``hash()``,
so the same seed gives byte-identical output on every run and every
supported Python version.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["CATALOGUE", "generate_retail_db"]

#: The catalogue: a line ``Product name = base price`` followed by indented
#: ``option: value, value, ...`` lines. Variants are distinct combinations of
#: the option values.
_CATALOGUE_SPEC = """
Canvas Tote Bag = 34
    color: natural, navy, olive, mustard
    size: small, medium, large
    closure: open, zipper
Rain Jacket = 129
    color: yellow, navy, forest green, charcoal
    size: XS, S, M, L, XL
    hood: packable, fixed
Wool Beanie = 26
    color: grey, burgundy, cream, black
    pattern: solid, striped, cable knit
Trail Sandals = 79
    size: 6, 7, 8, 9, 10, 11, 12
    color: sand, black, teal
    strap: velcro, buckle
Chef's Knife = 89
    blade length: 6 inch, 8 inch, 10 inch
    handle: walnut, micarta, resin
    steel: stainless, carbon, damascus
Cast Iron Skillet = 45
    diameter: 8 inch, 10 inch, 12 inch
    finish: pre-seasoned, enameled red, enameled blue
Dinnerware Set = 149
    pieces: 12, 16, 24
    color: white, speckled grey, sage
    material: stoneware, porcelain
Stand Mixer = 329
    bowl capacity: 4.5 qt, 5 qt, 6 qt
    color: red, white, pistachio, graphite
    motor: 300W, 500W
Countertop Blender = 119
    jar capacity: 48 oz, 64 oz, 72 oz
    power: 1000W, 1500W
    color: black, silver, white
Rice Cooker = 89
    capacity: 3 cup, 6 cup, 10 cup
    color: white, stainless
    program: basic, fuzzy logic, pressure
French Press = 39
    capacity: 12 oz, 34 oz, 51 oz
    material: glass, stainless steel, copper
Toaster = 59
    slots: 2, 4
    color: cream, black, chrome, mint
    slot width: standard, extra wide
Air Fryer = 109
    capacity: 3 qt, 5 qt, 8 qt
    display: dial, touchscreen
    color: black, white
Camping Hammock = 59
    material: nylon, polyester, cotton
    capacity: single, double
    color: orange, grey, olive, sky blue
Camping Tent = 249
    capacity: 2-person, 4-person, 6-person
    season: 3-season, 4-season
    color: green, orange, tan
Sleeping Bag = 139
    temperature rating: 40F, 20F, 0F
    fill: down, synthetic
    length: regular, long
Kayak Paddle = 119
    length: 220 cm, 230 cm, 240 cm
    shaft: aluminum, fiberglass, carbon
    blade: symmetric, asymmetric
Fishing Rod = 99
    length: 6 ft, 7 ft, 8 ft
    action: fast, moderate
    material: graphite, fiberglass
Tennis Racket = 169
    grip size: 2, 3, 4
    head size: 98 sq in, 100 sq in, 105 sq in
    color: black/yellow, white/blue
Basketball = 35
    size: 5, 6, 7
    surface: indoor, outdoor, hybrid
Speed Jump Rope = 19
    length: 8 ft, 9 ft, 10 ft
    cable: steel, pvc, beaded
Foam Roller = 29
    length: 12 inch, 18 inch, 36 inch
    density: soft, medium, firm
    color: blue, black, pink
Resistance Band Set = 32
    set size: 3 bands, 5 bands
    material: latex, fabric
    max resistance: 50 lbs, 100 lbs, 150 lbs
Strategy Board Game = 54
    theme: space, medieval, ocean, jungle
    edition: standard, deluxe
    language: English, Spanish
Drawing Tablet = 199
    active area: small, medium, large
    connectivity: wired, bluetooth
    screen: none, built-in
Scientific Calculator = 24
    display: 2-line, multi-line
    power: solar, battery, solar+battery
    color: black, blue, pink
Desk Organizer = 36
    material: bamboo, mesh metal, acrylic
    compartments: 4, 6, 8
    color: natural, black, white
Fountain Pen = 64
    nib: extra fine, fine, medium, broad
    body: resin, brass, aluminum
    ink color: black, blue, green
Sketchbook = 18
    size: A5, A4, A3
    paper weight: 120 gsm, 200 gsm
    binding: spiral, stitched
Computer Monitor = 289
    screen size: 24 inch, 27 inch, 32 inch
    resolution: 1080p, 1440p, 4K
    refresh rate: 60Hz, 144Hz
Webcam = 74
    resolution: 720p, 1080p, 4K
    field of view: 65 degrees, 90 degrees
    microphone: mono, stereo
USB-C Hub = 42
    ports: 4-in-1, 7-in-1, 10-in-1
    color: space grey, silver
    ethernet: yes, no
Mesh Wi-Fi Router = 179
    pack: 1 unit, 2 units, 3 units
    standard: Wi-Fi 6, Wi-Fi 6E, Wi-Fi 7
Smart Plug = 22
    pack: 1, 2, 4
    protocol: Wi-Fi, Zigbee, Matter
    energy monitoring: yes, no
Robot Mop = 349
    navigation: gyro, lidar, camera
    water tank: 200 ml, 350 ml
    color: white, black
Ceiling Fan = 189
    diameter: 42 inch, 52 inch, 60 inch
    finish: brushed nickel, matte black, oak
    light: yes, no
Bath Towel Set = 49
    pieces: 4, 6, 8
    color: white, slate, seafoam, terracotta
    material: cotton, bamboo, linen
Duvet Cover = 89
    size: twin, queen, king
    color: white, dusty rose, navy, oatmeal
    material: percale, sateen, linen
Memory Foam Pillow = 54
    firmness: soft, medium, firm
    size: standard, king
    cover: cotton, cooling gel
Scented Candle = 28
    scent: cedarwood, sea salt, fig, lavender, amber
    size: 8 oz, 14 oz
    wax: soy, coconut
Plant Pot = 31
    diameter: 6 inch, 10 inch, 14 inch
    material: terracotta, ceramic, concrete
    drainage: yes, no
Bird Feeder = 38
    capacity: 1 lb, 3 lb, 5 lb
    material: cedar, metal, recycled plastic
    mount: hanging, pole, window
Dog Leash = 24
    length: 4 ft, 6 ft, retractable 16 ft
    width: narrow, wide
    color: red, black, teal, camo
Cat Tree = 119
    height: 36 inch, 52 inch, 70 inch
    levels: 2, 3, 5
    color: beige, grey
Aquarium Kit = 139
    volume: 10 gal, 20 gal, 40 gal
    lighting: basic LED, full spectrum
    filter: hang-on, canister
Baby Stroller = 299
    type: full-size, compact, jogging
    color: black, heather grey, navy
    canopy: standard, extended
Hair Dryer = 79
    power: 1200W, 1875W
    color: black, white, rose gold
    attachments: concentrator, diffuser, both
Ukulele = 89
    size: soprano, concert, tenor
    wood: mahogany, spruce, koa
    pickup: acoustic, electro-acoustic
Digital Piano = 549
    keys: 61, 88
    action: semi-weighted, hammer action
    color: black, white, rosewood
Binoculars = 149
    magnification: 8x, 10x, 12x
    objective: 32 mm, 42 mm, 50 mm
    waterproof: yes, no
"""


def _parse_catalogue(spec: str) -> list[tuple[str, float, dict[str, list[str]]]]:
    """Parse :data:`_CATALOGUE_SPEC` into (name, base price, {option: values})."""
    out: list[tuple[str, float, dict[str, list[str]]]] = []
    for line in spec.strip().splitlines():
        if line.startswith(" "):
            option, values = line.strip().split(":", 1)
            out[-1][2][option] = [v.strip() for v in values.split(",")]
        else:
            name, price = line.split(" = ")
            out.append((name, float(price), {}))
    return out


#: (product name, base price, {option name: possible values}), in catalogue order.
CATALOGUE = _parse_catalogue(_CATALOGUE_SPEC)


def _split(text: str, sep: str | None = None) -> list[str]:
    """Split a word list written as a block of text, dropping surrounding blanks."""
    return [w.strip() for w in text.split(sep) if w.strip()]


_FIRST_NAMES = _split("""
    Amara Bastian Celine Dmitri Esme Farid Greta Hiro Ines Jonah Kaia Lorenzo Maren
    Nikhil Odette Pavel Quinn Rosalind Soren Talia Umar Vera Wendell Ximena Yannick Zora
    Anouk Bram Cosima Desmond Elif Florian Gwen Hamish Ilse Joaquin Keziah Leander
    Mirela Nadim Orla Priya Rafferty Saoirse Tobias Ulla Viktor Wren
""")

_LAST_NAMES = _split("""
    Abernathy Bergstrom Castellano Delacroix Eriksen Fairweather Guerrero Halloran
    Ishikawa Jablonski Kowalczyk Lindqvist Marchetti Nakashima Okonkwo Pemberton
    Quintero Rasmussen Szabo Thorne Underwood Varga Whitlock Yilmaz Zimmermann Achebe
    Brennan Cardoso Dunmore Elmsworth Fontaine Gallagher Haddad Ivanova Joshi Kaplan
    Lachance Moreau Novak Ortega
""")

_STREETS = _split(
    """
    Alder, Beacon, Briar, Cobalt, Copper, Dogwood, Ember, Fennel, Glenwood, Harbor,
    Heron, Juniper, Kestrel, Lantern, Meadowlark, Mill, Orchard, Pebble, Quarry,
    Ridgeview, Saffron, Sparrow, Tamarack, Thistle, Union, Vesper, Willow Bend, Yarrow
    """,
    ",",
)
_STREET_KINDS = ["Street", "Avenue", "Lane", "Road", "Court", "Way", "Terrace", "Boulevard"]

#: "City/ST/zip prefix" entries: the city, its state and the first three zip digits.
_CITY_SPEC = """
    Portland/OR/972, Tucson/AZ/857, Raleigh/NC/276, Madison/WI/537, Boise/ID/837,
    Omaha/NE/681, Albany/NY/122, Savannah/GA/314, Spokane/WA/992, Santa Fe/NM/875,
    Burlington/VT/054, Des Moines/IA/503, Knoxville/TN/379, Providence/RI/029,
    Reno/NV/895, Sacramento/CA/958, Ann Arbor/MI/481, Lexington/KY/405, Duluth/MN/558,
    Fort Collins/CO/805, Baton Rouge/LA/708, Tallahassee/FL/323, Pittsburgh/PA/152,
    Columbus/OH/432
"""
_CITIES: list[tuple[str, str, str]] = []
for _entry in _split(_CITY_SPEC, ","):
    _city, _state, _zip3 = _entry.split("/")
    _CITIES.append((_city, _state, _zip3))

_EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]
_CARD_BRANDS = ["visa", "mastercard", "amex", "discover"]

#: Cumulative thresholds for the order status mix (roughly tau2's proportions).
_STATUS_CUTS: list[tuple[float, str]] = [
    (0.42, "pending"),
    (0.79, "delivered"),
    (0.895, "processed"),
    (1.0, "cancelled"),
]
_CANCEL_REASONS = ["no longer needed", "ordered by mistake"]


class _Ids:
    """Draws random numeric ids, never the same one twice."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def digits(self, n: int, prefix: str = "") -> str:
        """A fresh ``prefix`` + ``n``-digit id without a leading zero."""
        while True:
            value = prefix + str(self._rng.randrange(10 ** (n - 1), 10**n))
            if value not in self._used:
                self._used.add(value)
                return value


def _products(rng: random.Random, ids: _Ids) -> dict[str, Any]:
    products: dict[str, Any] = {}
    for name, base, options in CATALOGUE:
        product_id = ids.digits(10)
        names = list(options)
        combos = 1
        for values in options.values():
            combos *= len(values)
        count = min(combos, rng.randrange(5, 21))
        seen: set[tuple[str, ...]] = set()
        variants: dict[str, Any] = {}
        while len(variants) < count:
            combo = tuple(rng.choice(options[k]) for k in names)
            if combo in seen:
                continue
            seen.add(combo)
            item_id = ids.digits(10)
            variants[item_id] = {
                "item_id": item_id,
                "options": dict(zip(names, combo, strict=True)),
                "available": rng.random() < 0.65,
                "price": round(base * (0.85 + 0.3 * rng.random()), 2),
            }
        products[product_id] = {"name": name, "product_id": product_id, "variants": variants}
    return products


def _address(rng: random.Random) -> dict[str, str]:
    city, state, zip3 = rng.choice(_CITIES)
    unit = rng.random()
    if unit < 0.45:
        address2 = ""
    elif unit < 0.75:
        address2 = f"Apt {rng.randrange(1, 40)}{rng.choice('ABCD')}"
    else:
        address2 = f"Suite {rng.randrange(100, 1000)}"
    return {
        "address1": f"{rng.randrange(10, 9990)} {rng.choice(_STREETS)} {rng.choice(_STREET_KINDS)}",
        "address2": address2,
        "city": city,
        "country": "USA",
        "state": state,
        "zip": f"{zip3}{rng.randrange(0, 100):02d}",
    }


def _payment_methods(rng: random.Random, ids: _Ids) -> dict[str, Any]:
    kinds = ["credit_card", "paypal", "gift_card"]
    rng.shuffle(kinds)
    count = rng.choice([1, 1, 1, 2, 2, 3])
    chosen = kinds[:count]
    # A few people keep a second credit card on file.
    if "credit_card" in chosen and rng.random() < 0.12:
        chosen.append("credit_card")
    methods: dict[str, Any] = {}
    for source in chosen:
        pm_id = ids.digits(7, prefix=f"{source}_")
        if source == "credit_card":
            methods[pm_id] = {
                "source": source,
                "id": pm_id,
                "brand": rng.choice(_CARD_BRANDS),
                "last_four": f"{rng.randrange(0, 10000):04d}",
            }
        elif source == "paypal":
            methods[pm_id] = {"source": source, "id": pm_id}
        else:
            methods[pm_id] = {
                "source": source,
                "id": pm_id,
                "balance": float(rng.randrange(0, 300)) + rng.choice([0.0, 0.25, 0.5, 0.75]),
            }
    return methods


def _users(rng: random.Random, ids: _Ids, n: int) -> dict[str, Any]:
    users: dict[str, Any] = {}
    emails: set[str] = set()
    name_zips: set[tuple[str, str, str]] = set()
    while len(users) < n:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        address = _address(rng)
        # Name + zip must identify one person, or authentication is ambiguous.
        key = (first, last, address["zip"])
        if key in name_zips:
            continue
        name_zips.add(key)
        user_id = ids.digits(4, prefix=f"{first.lower()}_{last.lower()}_")
        email = ""
        while not email or email in emails:
            local = rng.choice([f"{first}.{last}", f"{first}{last[0]}", f"{first[0]}{last}"])
            email = f"{local.lower()}{rng.randrange(10, 1000)}@{rng.choice(_EMAIL_DOMAINS)}"
        emails.add(email)
        users[user_id] = {
            "user_id": user_id,
            "name": {"first_name": first, "last_name": last},
            "address": address,
            "email": email,
            "payment_methods": _payment_methods(rng, ids),
            "orders": [],
        }
    return users


def _status(rng: random.Random) -> str:
    r = rng.random()
    for cut, status in _STATUS_CUTS:
        if r < cut:
            return status
    return _STATUS_CUTS[-1][1]


def _orders(
    rng: random.Random, ids: _Ids, products: dict[str, Any], users: dict[str, Any], n: int
) -> dict[str, Any]:
    product_list = list(products.values())
    user_list = list(users.values())
    orders: dict[str, Any] = {}
    for _ in range(n):
        user = rng.choice(user_list)
        order_id = ids.digits(7, prefix="#W")
        items: list[dict[str, Any]] = []
        picked: set[str] = set()
        for _ in range(rng.randrange(1, 6)):
            product = rng.choice(product_list)
            variant = rng.choice(list(product["variants"].values()))
            if variant["item_id"] in picked:
                continue
            picked.add(variant["item_id"])
            items.append(
                {
                    "name": product["name"],
                    "product_id": product["product_id"],
                    "item_id": variant["item_id"],
                    "price": variant["price"],
                    "options": dict(variant["options"]),
                }
            )
        status = _status(rng)
        fulfillments: list[dict[str, Any]] = []
        if status in ("processed", "delivered"):
            item_ids = [it["item_id"] for it in items]
            # Larger orders sometimes ship in two parcels.
            cut = rng.randrange(1, len(item_ids)) if len(item_ids) > 1 else 0
            parcels = [item_ids[:cut], item_ids[cut:]] if cut and rng.random() < 0.2 else [item_ids]
            fulfillments = [
                {"tracking_id": [ids.digits(12)], "item_ids": parcel} for parcel in parcels
            ]
        method = rng.choice(list(user["payment_methods"]))
        total = round(sum(it["price"] for it in items), 2)
        history = [{"transaction_type": "payment", "amount": total, "payment_method_id": method}]
        order: dict[str, Any] = {
            "order_id": order_id,
            "user_id": user["user_id"],
            # Most orders ship to the current address; some to an older one.
            "address": dict(user["address"]) if rng.random() < 0.8 else _address(rng),
            "items": items,
            "status": status,
            "fulfillments": fulfillments,
            "payment_history": history,
        }
        if status == "cancelled":
            history.append(
                {"transaction_type": "refund", "amount": total, "payment_method_id": method}
            )
            order["cancel_reason"] = rng.choice(_CANCEL_REASONS)
        orders[order_id] = order
        user["orders"].append(order_id)
    return orders


def generate_retail_db(seed: int = 0, n_users: int = 500, n_orders: int = 1000) -> dict[str, Any]:
    """Generate a retail database in the tau2 ``db.json`` layout.

    Args:
        seed: Seed of the ``random.Random`` that makes every choice; the same
            seed always gives the same database.
        n_users: Number of users.
        n_orders: Number of orders, spread over random users.

    Returns:
        A plain JSON-ready dict with ``products``, ``users`` and ``orders``.
    """
    rng = random.Random(seed)
    ids = _Ids(rng)
    products = _products(rng, ids)
    users = _users(rng, ids, n_users)
    orders = _orders(rng, ids, products, users, n_orders)
    return {"products": products, "users": users, "orders": orders}
