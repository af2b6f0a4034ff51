"""French labels of the enums people see, by process: what the pages and the mails call a
role, a kind of organisation, a status or a step. The pages show an enum by its label."""

from __future__ import annotations

from domain.actions import TaskAction
from domain.auth import Role
from domain.booking import ReservationStatus, ResourceKind
from domain.convention import KPI_LABELS, ConventionStep, KpiKey, ProjectKind, ProjectStatus
from domain.organisations import OrganisationKind, OrganisationStatus
from domain.people import NotifyPreference, SessionMethod, UserStatus
from domain.pooling import PoolStatus, RequestStatus, ServiceUnit, SplitRule
from domain.processes import ProcessKind, ProcessStatus
from domain.recruitment import CampaignStatus, ContractType

ROLE_LABELS: dict[str, str] = {
    Role.ADMIN: "administration",
    Role.STAFF: "équipe du réseau",
    Role.MANAGER: "direction",
    Role.MEMBER: "entreprise membre",
    Role.AGENCY: "agence",
    Role.PARTNER: "partenaire",
}

# --- the directory ----------------------------------------------------------------------
KIND_LABELS: dict[str, str] = {  # a directory's sections
    OrganisationKind.MEMBER: "Entreprises membres",
    OrganisationKind.AGENCY: "Agences emploi",
    OrganisationKind.CHAMBER: "Chambres consulaires",
    OrganisationKind.AUTHORITY: "Collectivités",
    OrganisationKind.PROVIDER: "Prestataires",
    OrganisationKind.ASSOCIATION: "Associations",
}
KIND_SINGULAR: dict[str, str] = {
    OrganisationKind.MEMBER: "entreprise membre",
    OrganisationKind.AGENCY: "agence emploi",
    OrganisationKind.CHAMBER: "chambre consulaire",
    OrganisationKind.AUTHORITY: "collectivité",
    OrganisationKind.PROVIDER: "prestataire",
    OrganisationKind.ASSOCIATION: "association",
}

# --- every process ----------------------------------------------------------------------
PROCESS_LABELS: dict[str, str] = {
    ProcessKind.ONBOARDING: "Adhésions",
    ProcessKind.RECRUITMENT: "Campagnes de recrutement",
    ProcessKind.REFERRAL: "Candidatures",
    ProcessKind.POOLING: "Services mutualisés",
    ProcessKind.BOOKING: "Réservations",
    ProcessKind.CONVENTION: "Conventions",
}
STATUS_LABELS: dict[str, str] = {
    ProcessStatus.RUNNING: "en cours",
    ProcessStatus.WAITING: "en attente",
    ProcessStatus.COMPLETED: "terminé",
    ProcessStatus.FAILED: "refusé",
    ProcessStatus.CANCELLED: "annulé",
    ProcessStatus.EXPIRED: "expiré",
    OrganisationStatus.PENDING: "en adhésion",
    OrganisationStatus.ACTIVE: "actif",
    OrganisationStatus.INACTIVE: "inactif",
}
STATUS_ORDER = [
    ProcessStatus.WAITING,
    ProcessStatus.RUNNING,
    ProcessStatus.COMPLETED,
    ProcessStatus.FAILED,
    ProcessStatus.CANCELLED,
    ProcessStatus.EXPIRED,
]
# A process's step, by its name; `<process>:<step>` where a step reads differently in one
# process (a convention's "active" is not a membership's).
STEP_LABELS: dict[str, str] = {
    # onboarding
    "validating": "vérification",
    "awaiting_charter": "attente de la charte",
    "active": "adhésion active",
    "expired": "expirée",
    "cancelled": "annulée",
    "refused": "refusée",
    # recruitment campaigns
    "open": "candidatures ouvertes",
    "closing": "entretiens en cours",
    "closed": "close",
    "filled": "postes pourvus",
    # referrals
    "duplicate": "doublon",
    "screening": "tri",
    "screened_out": "non retenue au tri",
    "shortlisted": "présélectionnée",
    "interview_requested": "entretien demandé",
    "interview": "entretien",
    "hired": "embauchée",
    "rejected": "refusée",
    "withdrawn": "retirée",
    "not_retained": "non retenue",
    # pools of services
    "gathering": "demandes en cours de regroupement",
    "quoting": "devis envoyés",
    "ordered": "commande passée",
    "confirmed": "commande confirmée",
    "rating": "livré et facturé",
    "compensated": "annulé, rien facturé",
    "failed": "n'a pas abouti",
    # reservations
    "waitlisted": "liste d'attente",
    # conventions
    "awaiting_signatures": "en attente de signatures",
    "signed": "signée, phase à venir",
    "convention:active": "phase en cours",
    "evaluating": "évaluée, décision attendue",
    "renewed": "renouvelée",
    "convention:closed": "close",
}

# --- pooled services ------------------------------------------------------------------
POOL_STATUS_LABELS: dict[str, str] = {
    PoolStatus.GATHERING: "demandes en cours de regroupement",
    PoolStatus.QUOTING: "devis envoyés",
    PoolStatus.ORDERED: "commande passée, réponse du prestataire attendue",
    PoolStatus.CONFIRMED: "commande confirmée, livraison attendue",
    PoolStatus.RATING: "livré et facturé",
    PoolStatus.COMPLETED: "terminé",
    PoolStatus.FAILED: "n'a pas abouti",
}
REQUEST_STATUS_LABELS: dict[str, str] = {
    RequestStatus.JOINED: "en attente d'autres entreprises",
    RequestStatus.QUOTED: "devis à accepter",
    RequestStatus.ACCEPTED: "devis accepté",
    RequestStatus.DECLINED: "devis refusé",
    RequestStatus.WITHDRAWN: "demande retirée",
    RequestStatus.EXPIRED: "devis expiré sans réponse",
    RequestStatus.COMMITTED: "commande passée",
    RequestStatus.RELEASED: "annulée, rien facturé",
    RequestStatus.INVOICED: "livré et facturé",
    RequestStatus.REFUSED: "demande impossible",
}
SPLIT_RULE_LABELS: dict[str, str] = {
    SplitRule.EQUAL: "à parts égales entre les entreprises",
    SplitRule.PRO_RATA_QUANTITY: "au prorata des quantités demandées",
    SplitRule.HEADCOUNT_WEIGHTED: "au prorata de l'effectif des entreprises",
}
UNIT_PLURAL_LABELS: dict[str, str] = {
    ServiceUnit.DAY: "jours",
    ServiceUnit.MONTH: "mois",
    ServiceUnit.SEAT: "places",
    ServiceUnit.HOUR: "heures",
    ServiceUnit.ITEM: "unités",
}

# --- recruitment campaigns ------------------------------------------------------------
CAMPAIGN_STATUS_LABELS: dict[str, str] = {
    CampaignStatus.OPENING: "en cours d'ouverture",
    CampaignStatus.OPEN: "candidatures ouvertes",
    CampaignStatus.CLOSING: "entretiens en cours",
    CampaignStatus.CLOSED: "close",
    CampaignStatus.FILLED: "postes pourvus",
    CampaignStatus.CANCELLED: "annulée",
}

# --- reservations -----------------------------------------------------------------------
RESERVATION_STATUS_LABELS: dict[str, str] = {
    ReservationStatus.CONFIRMED: "confirmée",
    ReservationStatus.WAITLISTED: "en liste d'attente",
    ReservationStatus.CANCELLED: "annulée",
    ReservationStatus.EXPIRED: "expirée",
    ReservationStatus.COMPLETED: "passée",
    ReservationStatus.REFUSED: "refusée",
}

# --- recruitment ------------------------------------------------------------------------
CONTRACT_LABELS: dict[str, str] = {
    ContractType.CDI: "CDI",
    ContractType.CDD: "CDD",
    ContractType.INTERIM: "intérim",
    ContractType.APPRENTICESHIP: "apprentissage",
    ContractType.PROFESSIONALISATION: "contrat de professionnalisation",
    ContractType.SEASONAL: "saisonnier",
}

RESOURCE_KIND_LABELS: dict[str, str] = {
    ResourceKind.ROOM: "salle",
    ResourceKind.VEHICLE: "véhicule",
    ResourceKind.EQUIPMENT: "matériel",
}

# --- tasks ------------------------------------------------------------------------------
TASK_LABELS: dict[str, str] = {
    TaskAction.ACCEPT_CHARTER: "Accepter la charte du réseau",
    TaskAction.REFER_CANDIDATES: "Proposer un candidat",
    TaskAction.SCREEN: "Trier la candidature",
    TaskAction.REQUEST_INTERVIEW: "Demander un entretien",
    TaskAction.CONSENT: "Transmettre le consentement du candidat",
    TaskAction.DECIDE: "Décider (embauche ou non)",
    TaskAction.ACCEPT_QUOTE: "Accepter ou refuser le devis",
    TaskAction.RATE: "Évaluer le service",
    TaskAction.CONFIRM_ORDER: "Confirmer ou refuser la commande",
    TaskAction.DELIVER: "Déclarer la livraison",
    TaskAction.SIGN_CONVENTION: "Signer la convention",
    TaskAction.REVIEW_CONVENTION: "Revue à mi-parcours",
    TaskAction.DECIDE_CONVENTION: "Renouveler ou clore",
    TaskAction.LAUNCH_PROJECT: "Lancer le projet d'une visite",
    TaskAction.FOLLOW_UP: "Relancer",
    TaskAction.CHASE_SIGNATURES: "Relancer les signataires",
}

# --- conventions ------------------------------------------------------------------------
CONVENTION_STEP_LABELS: dict[str, str] = {
    ConventionStep.AWAITING_SIGNATURES: "en attente de signatures",
    ConventionStep.SIGNED: "signée, phase à venir",
    ConventionStep.ACTIVE: "phase en cours",
    ConventionStep.EVALUATING: "évaluée, décision attendue",
    ConventionStep.RENEWED: "renouvelée",
    ConventionStep.CLOSED: "close",
    ConventionStep.CANCELLED: "abandonnée",
}
# The KPIs as the pages say them: an amount invested is read and typed in euros.
KPI_PAGE_LABELS: dict[str, str] = {
    **{k.value: v for k, v in KPI_LABELS.items()},
    KpiKey.INVESTMENT_CENTS: "Montant investi (€)",
}

# --- people ---------------------------------------------------------------------------
USER_STATUS_LABELS: dict[str, str] = {
    UserStatus.INVITED: "invité, pas encore venu",
    UserStatus.ACTIVE: "actif",
    UserStatus.DISABLED: "désactivé",
}
NOTIFY_LABELS: dict[str, str] = {
    NotifyPreference.IMMEDIATE: "un courriel à chaque tâche qui m'attend",
    NotifyPreference.DAILY: "un récapitulatif quotidien des tâches en retard",
    NotifyPreference.NONE: "aucun courriel",
}
SESSION_METHOD_LABELS: dict[str, str] = {
    SessionMethod.LINK: "lien reçu par courriel",
    SessionMethod.INVITATION: "lien d'invitation",
    SessionMethod.PASSWORD: "mot de passe",
}

# --- company visits -------------------------------------------------------------------
PROJECT_KIND_LABELS: dict[str, str] = {
    ProjectKind.RECRUITMENT: "recrutement",
    ProjectKind.POOLED_SERVICE: "service mutualisé",
    ProjectKind.TRAINING: "formation",
    ProjectKind.INVESTMENT: "investissement",
    ProjectKind.DIGITAL: "numérique",
    ProjectKind.FUNDING: "financement",
    ProjectKind.OTHER: "autre",
}
PROJECT_STATUS_LABELS: dict[str, str] = {
    ProjectStatus.IDENTIFIED: "repéré",
    ProjectStatus.IN_PROGRESS: "en cours",
    ProjectStatus.DONE: "réalisé",
    ProjectStatus.ABANDONED: "abandonné",
}
# The same as the campaigns' pages (one place: keep one copy when merging).


# --- form fields ------------------------------------------------------------------------
# A refused form's fields as people read them (a field the table lacks is « formulaire »:
# never an English name on a page).
FIELD_LABELS: dict[str, str] = {
    "first_name": "Prénom",
    "last_name": "Nom",
    "email": "Courriel",
    "phone": "Téléphone",
    "postcode": "Code postal",
    "commune": "Commune",
    "skills": "Compétences",
    "experience_years": "Années d'expérience",
    "position_id": "Poste",
    "cv_text": "Résumé du parcours",
    "reason": "Motif",
    "note": "Note",
    "comment": "Commentaire",
    "reference": "Référence de commande",
    "stars": "Note",
    "close_reason": "Motif de clôture",
    "renew": "Nouvelle phase",
    "starts_on": "Début de la phase",
    "ends_on": "Fin de la phase",
    "annual_budget_cents": "Budget annuel",
    "targets": "Objectifs",
    "priorities": "Priorités",
    "name": "Nom",
    "title": "Intitulé",
    "siret": "SIRET",
    "naf": "Code NAF",
    "headcount": "Effectif",
    "territory": "Territoire",
    "quantity": "Quantité",
    "needed_by": "Date du besoin",
    "deadline": "Date limite",
    "starts_at": "Début",
    "ends_at": "Fin",
    "amount_cents": "Montant",
    "spent_on": "Date de la dépense",
    "label": "Libellé",
    "visited_on": "Date de la visite",
    "company_id": "Entreprise",
    "themes": "Thèmes",
    "needs": "Besoins",
    "projects": "Projets",
    "given": "Réponse du candidat",
    "hired": "Décision",
    "retained": "Décision de tri",
    "accept": "Réponse",
    "confirmed": "Réponse",
    "delivered": "Livraison",
    "contact_name": "Nom du contact",
    "contact_email": "Courriel du contact",
}


def field_label(field: str) -> str:
    """`data.renew.starts_on` → « Nouvelle phase, Début de la phase »; an unknown or a
    technical field (`request_id`) → « formulaire »."""
    parts = [p for p in field.split(".") if p and p != "data" and not p.isdigit()]
    said = [FIELD_LABELS[p] for p in parts if p in FIELD_LABELS]
    return ", ".join(said) if said else "formulaire"
