"""seed_demo: the seeds' story (ACME protected, EMCA unprotected) as demo data."""

import io
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.levels import Level
from ipp.toggles import infrastructure_set_flags
from permissions import door
from permissions.services import grant_set
from publishing.services import (
    environment_create,
    infrastructure_create,
    membership_set,
    module_deploy,
    module_publish,
    user_create,
)
from registry.models import Deployment, Environment, Infrastructure, Membership, Module
from registry.packages import build_package

User = get_user_model()

DEMO_PASSWORD = "demo-pass-2026"
ENVIRONMENTS = ("Development", "Test", "Production")
# Module keys are derived from their names, so a second run finds what the first made.
KEY_NAMESPACE = uuid.UUID("6f1c3a52-9d0e-4d4b-9a51-2b8e0c7f4a10")


def demo_key(name: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, name))


@dataclass
class DemoModule:
    name: str
    description: str
    exposes: list
    references: list = field(default_factory=list)  # [(module name, [elements])]
    files: dict = field(default_factory=dict)

    def manifest(self) -> dict:
        return {
            "format": 1,
            "key": demo_key(self.name),
            "name": self.name,
            "description": self.description,
            "exposes": [
                {"name": name, "kind": kind, "signature": signature}
                for name, kind, signature in self.exposes
            ],
            "references": [
                {"module": demo_key(module), "elements": elements}
                for module, elements in self.references
            ],
        }


def _logic(name: str, body: str) -> bytes:
    return f"// {name}\n// Demo source: what a contractor with only `reference` never sees.\n{body}\n".encode()


@dataclass
class Side:
    infrastructure: str
    protected: bool
    admin: str
    developer: str
    contractor: str
    modules: list  # in dependency order
    contractor_reference: str  # module the contractor may reference


SIDES = [
    Side(
        infrastructure="ACME",
        protected=True,
        admin="acme-admin",
        developer="acme-dev",
        contractor="acme-contractor",
        contractor_reference="CustomerCore_API",
        modules=[
            DemoModule(
                name="CustomerCore_API",
                description="Customers and their accounts: the API other modules build on.",
                exposes=[
                    ("GetCustomer", "server_action", "GetCustomer(Id: Integer) -> Customer"),
                    (
                        "SearchCustomers",
                        "server_action",
                        "SearchCustomers(Query: Text) -> Customer List",
                    ),
                    (
                        "UpsertCustomer",
                        "service_action",
                        "UpsertCustomer(Customer: Customer) -> Integer",
                    ),
                    ("Customer", "entity", "Customer(Id, Name, Email, Tier)"),
                ],
                files={
                    "Logic/GetCustomer.oml": _logic(
                        "GetCustomer",
                        "action GetCustomer(Id: Integer) -> Customer {\n"
                        "  customer = Aggregate(Customer).Filter(Id == Id).First()\n"
                        '  if customer.IsEmpty { raise NotFound("customer " + Id) }\n'
                        "  return customer\n}",
                    ),
                    "Logic/SearchCustomers.oml": _logic(
                        "SearchCustomers",
                        "action SearchCustomers(Query: Text) -> Customer List {\n"
                        "  return Aggregate(Customer).Filter(Name like Query).Take(50)\n}",
                    ),
                    "Data/Customer.entity": _logic(
                        "Customer",
                        "entity Customer { Id: Integer; Name: Text; Email: Email; Tier: Text }",
                    ),
                },
            ),
            DemoModule(
                name="Billing_API",
                description="Invoices and payments for ACME customers.",
                exposes=[
                    (
                        "CreateInvoice",
                        "server_action",
                        "CreateInvoice(CustomerId: Integer, Lines: InvoiceLine List) -> Invoice",
                    ),
                    ("Invoice", "entity", "Invoice(Id, CustomerId, Total, Status)"),
                ],
                references=[("CustomerCore_API", ["GetCustomer", "Customer"])],
                files={
                    "Logic/CreateInvoice.oml": _logic(
                        "CreateInvoice",
                        "action CreateInvoice(CustomerId: Integer, Lines: InvoiceLine List) -> Invoice {\n"
                        "  customer = CustomerCore_API.GetCustomer(CustomerId)\n"
                        "  total = Sum(Lines, line => line.Quantity * line.Price)\n"
                        '  return Invoice.Create(customer.Id, total, "open")\n}',
                    ),
                },
            ),
            DemoModule(
                name="CustomerPortal_UI",
                description="The customer-facing portal: screens over the customer and billing APIs.",
                exposes=[("CustomerCard", "block", "CustomerCard(Customer: Customer)")],
                references=[
                    ("CustomerCore_API", ["SearchCustomers", "Customer"]),
                    ("Billing_API", ["Invoice"]),
                ],
                files={
                    "UI/Screens/Customers.screen": _logic(
                        "Customers screen",
                        "screen Customers {\n  list = CustomerCore_API.SearchCustomers(SearchBox.Text)\n"
                        "  render Table(list, columns: [Name, Email, Tier])\n}",
                    ),
                    "UI/Blocks/CustomerCard.block": _logic(
                        "CustomerCard",
                        "block CustomerCard(Customer: Customer) { Card(Customer.Name) }",
                    ),
                },
            ),
        ],
    ),
    Side(
        infrastructure="EMCA",
        protected=False,
        admin="emca-admin",
        developer="emca-dev",
        contractor="emca-contractor",
        contractor_reference="Inventory_Core",
        modules=[
            DemoModule(
                name="Inventory_Core",
                description="Products and stock levels across EMCA warehouses.",
                exposes=[
                    ("GetStock", "server_action", "GetStock(Sku: Text) -> Integer"),
                    (
                        "ReserveStock",
                        "service_action",
                        "ReserveStock(Sku: Text, Quantity: Integer) -> Boolean",
                    ),
                    ("Product", "entity", "Product(Sku, Name, Price)"),
                ],
                files={
                    "Logic/GetStock.oml": _logic(
                        "GetStock",
                        "action GetStock(Sku: Text) -> Integer {\n"
                        "  return Sum(Aggregate(StockLevel).Filter(Sku == Sku), s => s.Quantity)\n}",
                    ),
                    "Data/Product.entity": _logic(
                        "Product", "entity Product { Sku: Text; Name: Text; Price: Currency }"
                    ),
                },
            ),
            DemoModule(
                name="Warehouse_UI",
                description="Screens for warehouse staff: stock lookup and reservations.",
                exposes=[],
                references=[("Inventory_Core", ["GetStock", "ReserveStock", "Product"])],
                files={
                    "UI/Screens/Stock.screen": _logic(
                        "Stock screen",
                        "screen Stock {\n  quantity = Inventory_Core.GetStock(SkuInput.Text)\n"
                        '  render Label(quantity + " in stock")\n}',
                    ),
                },
            ),
        ],
    ),
]


class Command(BaseCommand):
    help = (
        "Load the demo story of the seeds: support user 'support'; infrastructures ACME "
        "(o11, IPP protected) and EMCA (o11, IPP unprotected), each with Development, Test "
        "and Production; per side an administrator, a developer (default level open, may "
        "create modules) and a contractor (no default level, reference on one API module); "
        "modules published through the real publish service and deployed Development -> "
        "Test -> Production. Idempotent: whatever exists is left as it is (including "
        "passwords and IPP settings), and a second run reports that nothing changed. "
        f"Users it creates get --password (default {DEMO_PASSWORD!r})."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"password for the demo users this run creates (default {DEMO_PASSWORD})",
        )

    def handle(self, *args, password: str, **options):
        self.changes = 0
        try:
            support = self._support(password)
            for side in SIDES:
                self._side(side, support, password)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        if self.changes:
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {self.changes} change(s)."))
        else:
            self.stdout.write("Demo data already present: nothing changed.")
        users = ["support"] + [
            name for side in SIDES for name in (side.admin, side.developer, side.contractor)
        ]
        self.stdout.write(f"Users: {', '.join(users)}")
        self.stdout.write(
            f"Password of users created by seed_demo: {password} "
            "(existing users keep theirs). Demo only: change it anywhere that matters."
        )

    def _did(self, text: str) -> None:
        self.changes += 1
        self.stdout.write(f"  + {text}")

    def _support(self, password: str):
        user = User.objects.filter(username="support").first()
        if user is None:
            user = User.objects.create_user(
                "support", email="support@example.test", password=password
            )
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            self._did("user support (support staff)")
        elif not user.is_staff:
            raise CommandError("user 'support' exists but is not staff; refusing to change it")
        return user

    def _user(self, support, username: str, password: str):
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(
                actor=support,
                username=username,
                password=password,
                email=f"{username}@example.test",
            )
            self._did(f"user {username}")
        return user

    def _side(self, side: Side, support, password: str) -> None:
        infra = Infrastructure.objects.filter(name=side.infrastructure).first()
        if infra is None:
            infra = infrastructure_create(actor=support, name=side.infrastructure, platform="o11")
            self._did(f"infrastructure {infra.name} ({infra.activation_code})")
            if side.protected:
                infra = infrastructure_set_flags(
                    actor=support, infrastructure=infra, ipp_protected=True
                )
                self._did(f"IPP protection on for {infra.name}")
        environments = []
        for name in ENVIRONMENTS:
            env = Environment.objects.filter(infrastructure=infra, name=name).first()
            if env is None:
                env = environment_create(actor=support, infrastructure=infra, name=name)
                self._did(f"environment {infra.name} / {name}")
            environments.append(env)

        admin = self._user(support, side.admin, password)
        developer = self._user(support, side.developer, password)
        contractor = self._user(support, side.contractor, password)
        self._member(support, infra, admin, role=Membership.Role.ADMINISTRATOR)
        self._member(support, infra, developer, default_level=Level.OPEN, create_modules=True)
        self._member(support, infra, contractor)

        development = environments[0]
        modules = {}
        for demo in side.modules:
            modules[demo.name] = self._publish(developer, development, demo)
        for env in environments[1:]:
            for demo in side.modules:
                self._deploy(developer, modules[demo.name], env)

        api = modules[side.contractor_reference]
        if door.effective_level(contractor, api) < Level.REFERENCE:
            grant_set(actor=admin, module=api, user=contractor, level=Level.REFERENCE)
            self._did(f"{contractor.username}: reference on {api.name}")

    def _member(self, support, infra, user, **settings) -> None:
        if Membership.objects.filter(infrastructure=infra, user=user).exists():
            return
        membership_set(actor=support, infrastructure=infra, user=user, **settings)
        self._did(f"{user.username} joins {infra.name} ({settings.get('role', 'member')})")

    def _publish(self, developer, env, demo: DemoModule) -> Module:
        module = Module.objects.filter(
            infrastructure=env.infrastructure, key=demo_key(demo.name)
        ).first()
        if module is not None and module.versions.exists():
            return module
        upload = io.BytesIO(build_package(demo.manifest(), demo.files))
        result = module_publish(user=developer, environment=env, upload=upload)
        marked = " (marked)" if result.version.marked else ""
        self._did(f"published {demo.name} v{result.version.number} to {env}{marked}")
        return result.module

    def _deploy(self, developer, module: Module, env) -> None:
        if Deployment.objects.filter(environment=env, module=module, is_current=True).exists():
            return
        version = module.versions.order_by("-number").first()
        module_deploy(user=developer, version=version, environment=env)
        self._did(f"deployed {module.name} v{version.number} to {env}")
