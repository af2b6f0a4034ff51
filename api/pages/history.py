"""A process's history and live state as people read them: a sentence per act with who
acted and the reason they gave (« Sonia Meziane a retenu la candidature : profil conforme »),
and the workflow's state as business facts (no JSON, no ids, euros not cents)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from api.pages.formats import day, moment, month
from domain.formats import euros
from domain.labels import ROLE_LABELS, STATUS_LABELS, STEP_LABELS, TASK_LABELS
from domain.organisations import FIELD_LABELS
from domain.processes import TimelineEvent

Data = dict[str, Any]


def _why(data: Data, key: str = "reason") -> str:
    text = data.get(key)
    return f" : {text}" if text else ""


def _yes(data: Data, key: str) -> bool:
    return data.get(key) in (True, "true", "True")


# What each audited act says, by its action: a function of the act's data.
ACTS: dict[str, Callable[[Data], str]] = {
    # recruitment
    "recruitment.launch": lambda d: "a lancé la campagne",
    "recruitment.cancel": lambda d: "a annulé la campagne" + _why(d),
    "recruitment.refer": lambda d: "a proposé un candidat",
    "recruitment.screen": lambda d: (
        ("a retenu la candidature" if _yes(d, "retained") else "n'a pas retenu la candidature")
        + _why(d)
    ),
    "recruitment.request_interview": lambda d: "a demandé un entretien",
    "recruitment.consent": lambda d: (
        "a transmis le consentement du candidat"
        if _yes(d, "given")
        else "a transmis le refus du candidat"
    ),
    "recruitment.decide": lambda d: (
        ("a embauché le candidat" if _yes(d, "hired") else "n'a pas embauché le candidat") + _why(d)
    ),
    "recruitment.withdraw": lambda d: "a retiré la candidature" + _why(d),
    "recruitment.erase": lambda d: "a fait effacer les données personnelles du candidat",
    "referral.duplicate_answered": lambda d: (
        "a proposé une personne déjà proposée : la candidature reste créditée à "
        f"{d.get('credited_to') or 'la première agence'}"
    ),
    # pooled services
    "pooling.create_service": lambda d: "a ajouté le service au catalogue",
    "pooling.withdraw_service": lambda d: "a retiré le service du catalogue",
    "pooling.request_service": lambda d: (
        "a demandé le service" + (f" (quantité : {d['quantity']})" if d.get("quantity") else "")
    ),
    "pooling.answer_quote": lambda d: (
        "a accepté le devis" if _yes(d, "accept") else "a refusé le devis" + _why(d)
    ),
    "pooling.withdraw_request": lambda d: "a retiré sa demande" + _why(d),
    "pooling.rate": lambda d: f"a noté le service {d.get('stars', '?')} sur 5" + _why(d, "comment"),
    "pooling.answer_order": lambda d: (
        "a confirmé la commande" + (f" (référence {d['reference']})" if d.get("reference") else "")
        if _yes(d, "confirmed")
        else "a refusé la commande" + _why(d)
    ),
    "pooling.report_delivery": lambda d: (
        "a déclaré la livraison faite"
        if _yes(d, "delivered")
        else "a annulé la livraison" + _why(d)
    ),
    # bookings
    "booking.book": lambda d: "a réservé le créneau",
    "booking.cancel": lambda d: "a annulé la réservation" + _why(d),
    # conventions and visits
    "convention.create": lambda d: "a créé la convention",
    "convention.signed": lambda d: "a signé la convention",
    "convention.amended": lambda d: "a modifié les objectifs ou le budget" + _why(d),
    "convention.expense": lambda d: (
        f"a enregistré une dépense de {euros(int(d['amount_cents']))}"
        if d.get("amount_cents") is not None
        else "a enregistré une dépense"
    ),
    "convention.review": lambda d: "a fait la revue à mi-parcours" + _why(d, "note"),
    "convention.decide": lambda d: (
        "a renouvelé la convention pour une nouvelle phase"
        if d.get("renew")
        else "a clos la convention" + _why(d, "close_reason")
    ),
    "convention.cancel": lambda d: "a abandonné la phase" + _why(d),
    "visits.record_visit": lambda d: "a enregistré une visite d'entreprise",
    "visits.update_project": lambda d: "a mis à jour un projet d'action",
    "visits.launch_campaign": lambda d: "a lancé une campagne depuis un projet d'action",
    "visits.request_service": lambda d: "a demandé un service depuis un projet d'action",
    # onboarding and the directory
    "onboarding.started": lambda d: "a ouvert l'adhésion",
    "membership.activated": lambda d: "a accepté la charte : l'adhésion est active",
    "membership.cancelled": lambda d: "a annulé l'adhésion" + _why(d),
    "membership.expired": lambda d: "l'adhésion a expiré (charte non acceptée à temps)",
    "membership.refused": lambda d: "l'adhésion est refusée" + _why(d),
    "organisations.propose_change": lambda d: "a demandé une modification" + _why(d),
    "organisations.decide_change": lambda d: (
        ("a accepté la modification" if _yes(d, "approve") else "a refusé la modification")
        + _why(d, "note")
    ),
    "organisation.updated": lambda d: (
        "a modifié la fiche de l'organisation"
        + (
            f" ({', '.join(FIELD_LABELS.get(f, f) for f in sorted(d['changes']))})"
            if isinstance(d.get("changes"), dict) and d["changes"]
            else ""
        )
        + _why(d)
    ),
    "organisations.create": lambda d: "a ajouté l'organisation à l'annuaire",
}

# How a task ended, when its outcome is not a step of its process.
OUTCOME_LABELS = {
    "campaign_launched": "campagne lancée",
    "service_requested": "service demandé",
    "accepted": "devis accepté",
    "declined": "devis refusé",
    "withdrawn": "demande retirée",
    "expired": "sans réponse dans le délai",
    "released": "regroupement annulé",
    "confirmed": "commande confirmée",
    "delivered": "livré",
    "cancelled": "annulé",
    "rated": "évalué",
    "no_rating": "sans évaluation",
    "reviewed": "revue faite",
    "phase over": "phase terminée",
    "signed": "signée",
    "decided": "décision prise",
}


def _who(actor: str | None) -> str:
    if not actor or actor in ("system", "cli"):
        return "Relais"
    if re.fullmatch(r"[0-9a-f-]{36}", actor):  # a person no longer in the directory
        return "Une personne"
    return actor


def sentence(e: TimelineEvent) -> str:
    """One line of the history, in French, without codes or ids."""
    if e.kind == "task_opened":
        return f"Tâche pour {e.actor} : {e.detail}"
    if e.kind == "task_closed":
        what = TASK_LABELS.get(e.action, "tâche")
        outcome = e.detail or ""
        how = OUTCOME_LABELS.get(outcome) or STEP_LABELS.get(outcome) or "close"
        return f"{e.actor} : « {what} » — {how}"
    act = ACTS.get(e.action)
    said = act(e.data or {}) if act else "a agi sur ce dossier"
    return f"{_who(e.actor)} {said}"


# --- the live state as facts ------------------------------------------------------------

FACT_LABELS = {
    "step": "Étape",
    "status": "Statut",
    "pseudonym": "Candidat",
    "reminders_sent": "Relances envoyées",
    "escalated": "Signalé à la direction",
    "deadline": "Date limite",
    "registered_at": "Proposé le",
    "decided_at": "Décidé le",
    "closed_at": "Clos le",
    "period": "Mois",
    "total_cents": "Montant total (HT)",
    "quote_round": "Tour de devis",
    "order_reference": "Référence de commande",
    "starts_at": "Début",
    "ends_at": "Fin",
    "waitlist_position": "Place sur la liste d'attente",
    "title": "Titre",
    "territory": "Territoire",
    "budget_used_cents": "Budget consommé",
    "snapshots_taken": "Relevés d'indicateurs",
    "reason": "Motif",
    "detail": "Précision",
    "contact_name": "Contact",
    "charter_accepted_at": "Charte acceptée le",
}
HIDDEN = {"request_id", "user_id", "workflow_id", "run_id"}


def _value(key: str, value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    if key.endswith("_cents") and isinstance(value, int):
        return euros(value)
    if key == "period" and isinstance(value, str):
        return month(value)
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", value):
            try:
                return moment(datetime.fromisoformat(value))
            except ValueError:
                return value
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return day(date.fromisoformat(value))
        if key in ("step", "status"):
            return STEP_LABELS.get(value) or STATUS_LABELS.get(value) or value
        if key.endswith("role"):
            return ROLE_LABELS.get(value, value)
        if re.fullmatch(r"[0-9a-f-]{36}", value):
            return None  # an id says nothing to a person
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


def facts(live: dict[str, Any] | None) -> list[tuple[str, str]]:
    """What the workflow knows now, as labelled facts: the keys people read, in French;
    ids, lists and nested records are left to the admins' technical details."""
    if not live:
        return []
    out = []
    for key, label in FACT_LABELS.items():
        if key in HIDDEN or key not in live:
            continue
        shown = _value(key, live[key])
        if shown is not None:
            out.append((label, shown))
    filled, targets = live.get("filled"), live.get("targets")
    if isinstance(filled, dict) and isinstance(targets, dict) and targets:
        done = sum(int(v) for v in filled.values())
        out.append(("Embauches", f"{done} sur {sum(int(v) for v in targets.values())}"))
    participants = live.get("participants")
    if isinstance(participants, list):
        out.append(("Participants", str(len(participants))))
    return out
