"""Validation of synthetic (or any) tasks: every rule, a verdict and reasons per task.

The rules, in order (:data:`~toolgym.synth._records.RULE_NAMES`):

* ``schema``: the task parses as a tau2 task, has gold actions, and they name
  real tools with arguments that fit the tools' schemas;
* ``replay``: every gold action succeeds on a fresh database;
* ``determinism``: replaying the gold writes twice changes the same records to
  the same content (the ``state_digest``);
* ``no_effect``: the task changes the database or has facts to communicate,
  unless it is a declared refusal;
* ``duplicate``: no earlier kept task has the same user and the same gold
  actions;
* ``facts``: the user's instructions contain what the user must know (the
  task's ``synth.facts``, plus the identity and new-address or new-passenger
  values the gold actions use);
* ``policy``: the gold obeys the policy (:func:`~toolgym.synth.check_policy`).

A task is kept when no rule rejects it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from toolgym.domains._db import canonical_json
from toolgym.domains._domain import Domain
from toolgym.env import replay_calls, task_snapshot
from toolgym.errors import DataError
from toolgym.evaluation._validate import inspect_task, write_tools
from toolgym.synth._labels import task_stats, task_user
from toolgym.synth._policy import check_policy, declared_refusal
from toolgym.synth._records import Reason, TaskVerdict, ValidationReport
from toolgym.synth._rules import AirlineRules, RetailRules
from toolgym.tasks import Task, parse_tasks

__all__ = ["Validator", "instruction_text", "required_facts", "validate_tasks"]


def instruction_text(task: Task) -> str:
    """Everything the simulated user reads: persona and instructions."""
    scenario = task.user_scenario
    return "\n".join(x for x in (scenario.persona, scenario.instructions_text()) if x)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def required_facts(task: Task, db: Any = None) -> list[str]:
    """What the user's instructions must contain for the gold actions to be reachable.

    The task's own ``synth.facts``, plus what only the user can know: the
    identity the first lookup uses (user id, email, or name and zip), the
    street, city and zip of a new address, and the names of passengers a
    passenger update brings in. With ``db`` (the task's starting database),
    addresses the user already has (the profile's, an order's) and passengers
    already on the reservation or saved in the profile are not required.
    """
    extra = task.model_extra or {}
    synth = extra.get("synth") if isinstance(extra.get("synth"), dict) else {}
    facts: list[str] = [str(f) for f in (synth or {}).get("facts") or []]
    identity_done = False
    for action in task.gold_actions:
        args, name = action.arguments, action.name
        if not identity_done and name in ("get_user_details", "find_user_id_by_email",
                                          "find_user_id_by_name_zip"):
            identity_done = True
            keys = {"get_user_details": ("user_id",), "find_user_id_by_email": ("email",),
                    "find_user_id_by_name_zip": ("first_name", "last_name", "zip")}[name]
            facts += [str(args[k]) for k in keys if isinstance(args.get(k), str)]
        if (name in ("modify_pending_order_address", "modify_user_address")
                and not _known_address(db, task, args)):
            facts += [str(args[k]) for k in ("address1", "city", "zip")
                      if isinstance(args.get(k), str) and args[k]]
        if name == "update_reservation_passengers" and isinstance(args.get("passengers"), list):
            res = (db.reservations.get(args.get("reservation_id"))
                   if db is not None and isinstance(args.get("reservation_id"), str) else None)
            owner = db.users.get(res.user_id) if res is not None else None
            people = [*(res.passengers if res else []),
                      *(owner.saved_passengers if owner else []),
                      *([owner.name] if owner else [])]
            known = {(p.first_name, p.last_name) for p in people}
            for p in args["passengers"]:
                if isinstance(p, dict) and (p.get("first_name"), p.get("last_name")) not in known:
                    facts += [str(p[k]) for k in ("first_name", "last_name")
                              if isinstance(p.get(k), str)]
    return list(dict.fromkeys(f for f in facts if f.strip()))


def _known_address(db: Any, task: Task, args: dict[str, Any]) -> bool:
    """The address is already the user's: on the profile or on one of their orders."""
    if db is None:
        return False
    user_id = args.get("user_id")
    order = db.orders.get(args.get("order_id")) if isinstance(args.get("order_id"), str) else None
    if order is not None:
        user_id = order.user_id
    user = db.users.get(user_id) if isinstance(user_id, str) else None
    if user is None:
        return False
    wanted = (args.get("address1"), args.get("city"), args.get("zip"))
    places = [user.address, *(db.orders[o].address for o in user.orders if o in db.orders)]
    return any((a.address1, a.city, a.zip) == wanted for a in places)


def _signature(task: Task) -> str:
    return canonical_json([[a.name, a.arguments] for a in task.gold_actions
                           if a.requestor == "assistant"])


def _state(domain: Domain[Any], task: Task, db: Any) -> tuple[str, int]:
    """Digest of the records ``db`` changed, and how many differ from the start.

    A record counts when its serialisation differs from the starting
    database's (pydantic's JSON dump: exact, and much cheaper than canonical
    JSON for flight records with thirty dates).
    """
    start = task_snapshot(domain, task).fork()
    h = hashlib.sha256()
    n = 0
    for table, keys in sorted(db.changed().items()):
        for key in sorted(keys):
            if table == "":
                new, old = getattr(db, key), getattr(start, key)
            else:
                new, old = db.table(table).get(key), start.table(table).get(key)
            if new is old:
                continue
            dump = "null" if new is None else new.model_dump_json()
            if old is not None and dump == old.model_dump_json():
                continue
            n += 1
            h.update(f"{table}\0{key}\0{dump}\n".encode())
    return h.hexdigest(), n


class Validator:
    """Validates tasks one at a time, remembering kept ones to refuse duplicates.

    Args:
        domain: The domain the tasks run in.
        rules: The policy rule profile.
        check_facts: Apply the ``facts`` rule.
    """

    def __init__(self, domain: Domain[Any], rules: AirlineRules | RetailRules, *,
                 check_facts: bool = True) -> None:
        self.domain = domain
        self.rules = rules
        self.check_facts = check_facts
        self.report = ValidationReport(domain=domain.name, rules=rules.name)
        self.kept: list[Task] = []
        self._seen: dict[tuple[str | None, str], str] = {}
        self._ids: set[str] = set()

    def parse(self, raw: Any, index: int) -> tuple[Task | None, TaskVerdict | None]:
        """The task, or a ``schema`` verdict when it does not parse."""
        if isinstance(raw, Task):
            return raw, None
        label = raw.get("id") if isinstance(raw, dict) else None
        task_id = str(label) if isinstance(label, str | int) else f"#{index}"
        try:
            return parse_tasks([raw], source="task")[0], None
        except DataError as exc:
            # "task: task 'x': field ..." -> "field ...": the verdict names the task.
            text = re.sub(r"^task: (task '.*?'|task #\d+): ", "", str(exc)).removeprefix("task: ")
            return None, TaskVerdict(task_id=task_id, kept=False,
                                     reasons=[Reason(rule="schema", message=text)])

    def check(self, raw: Any, index: int = 0, notes: Iterable[Reason] = ()) -> TaskVerdict:
        """Validate one task (a dict or a :class:`Task`) and count the verdict in the report."""
        task, verdict = self.parse(raw, index)
        if verdict is None:
            assert task is not None
            verdict = self._check(task)
        verdict.notes.extend(notes)
        self.report.add(verdict)
        if verdict.kept and task is not None:
            self.kept.append(task)
        return verdict

    def _check(self, task: Task) -> TaskVerdict:
        extra = task.model_extra or {}
        verdict = TaskVerdict(task_id=task.id, kept=False,
                              scenario_type=extra.get("scenario_type"))
        reasons = verdict.reasons

        def reject(rule: Any, message: str) -> None:
            reasons.append(Reason(rule=rule, message=message))

        if task.id in self._ids:
            reject("schema", "duplicate task id")
            return verdict
        self._ids.add(task.id)
        if task.evaluation_criteria is None or task.evaluation_criteria.actions is None:
            reject("schema", "no gold actions (evaluation_criteria.actions is missing)")
            return verdict
        found = inspect_task(self.domain, task)
        for problem in found.malformed:
            reject("schema", problem)
        if found.malformed or found.env is None:
            return verdict
        for problem in found.rule_failures:
            reject("replay", problem)
        digest, changed = _state(self.domain, task, found.env.db)
        calls = [(a.name, a.arguments) for a in task.gold_actions if a.requestor == "assistant"]
        again, _ = replay_calls(self.domain, task, calls)
        if _state(self.domain, task, again)[0] != digest:
            reject("determinism", "replaying the gold actions twice gives different databases")
        verdict.state_digest = digest
        refusal = declared_refusal(task)
        if not changed and not task.evaluation_criteria.communicate_info and not refusal:
            reject("no_effect", "the gold actions change nothing and there is nothing to "
                                "communicate (and the task is not a declared refusal)")
        key = (task_user(task), _signature(task))
        if key in self._seen:
            reject("duplicate", f"same user and gold actions as task {self._seen[key]!r}")
        if self.check_facts:
            text = _norm(instruction_text(task))
            start = task_snapshot(self.domain, task).fork()
            missing = [f for f in required_facts(task, start) if _norm(f) not in text]
            if missing:
                reject("facts", "the instructions do not tell the user "
                                + ", ".join(repr(m) for m in missing))
        for problem in check_policy(self.domain, task, self.rules):
            reject("policy", problem)
        verdict.kept = not reasons
        if verdict.kept:
            self._seen[key] = task.id
        return verdict

    def finish(self) -> ValidationReport:
        """The report, with statistics of the kept tasks."""
        self.report.stats = task_stats(self.kept, write_tools(self.domain))
        return self.report


def validate_tasks(domain: Domain[Any], tasks: Iterable[Any],
                   rules: AirlineRules | RetailRules, *, check_facts: bool = True
                   ) -> tuple[list[Task], ValidationReport]:
    """Validate tasks (dicts as read from a file, or :class:`Task` objects).

    Args:
        domain: The domain the tasks run in.
        tasks: The tasks.
        rules: The policy rule profile (see :func:`~toolgym.synth.rules_for`).
        check_facts: Apply the ``facts`` rule.

    Returns:
        The kept tasks, in order, and the report (a verdict per task).
    """
    validator = Validator(domain, rules, check_facts=check_facts)
    for i, raw in enumerate(tasks):
        validator.check(raw, i)
    return validator.kept, validator.finish()
