"""The only module that talks to ARM: read what is deployed, write what the plan says. Everything crosses this
boundary as REST-shaped JSON (dicts), so plan and deploy never see an SDK model.

Policy exemptions have no client in azure-mgmt-resource-policy, so they go through ResourceManagementClient's
generic by-id operations, and are listed with a plain GET through the same client's pipeline."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    map_error,
)
from azure.core.rest import HttpRequest
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.policyinsights.models import Remediation
from azure.mgmt.resource.policy.models import PolicyAssignment, PolicyDefinition, PolicySetDefinition

from auditor.jsonvalue import JsonObject, JsonValue, as_array, as_object
from auditor.policy import PolicyAzureError, PolicyError
from auditor.policy.azure import AzureClients
from auditor.policy.exemptions import listing_scopes, ring_exemptions
from auditor.policy.ids import (
    AUTHZ,
    POLICY_EXEMPTIONS,
    Scope,
    id_key,
    is_within,
    parse_scope,
    split_child_id,
)
from auditor.policy.model import DeployedState, DesiredState, Kind, Resource

PERMISSION_HINT = (
    "the signed-in identity needs Resource Policy Contributor and User Access Administrator (or Owner) at the scope"
)
EXEMPTION_API_VERSION = "2022-07-01-preview"
"""api-version of Microsoft.Authorization/policyExemptions (the one that added assignmentScopeValidation and
resourceSelectors); every exemption call uses it."""
_ERRORS = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}


class PrincipalNotFound(Exception):
    """ARM does not know the principal yet: a new managed identity is still propagating."""


class RoleAssignmentExists(Exception):
    """The same role is already granted to the principal at the scope (under another name)."""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextmanager
def azure_call(action: str) -> Iterator[None]:
    """Turn SDK errors into PolicyError (ARM refused our input, exit 2) or PolicyAzureError (exit 3)."""
    try:
        yield
    except ClientAuthenticationError as exc:
        raise PolicyAzureError(
            f"{action}: authentication failed: {_first_line(exc)}",
            "sign in (az login) or check the credential and [policy].tenant_id",
        ) from exc
    except HttpResponseError as exc:
        code = getattr(exc.error, "code", None) or "error"
        message = getattr(exc.error, "message", None) or _first_line(exc)
        if exc.status_code in (401, 403):
            raise PolicyAzureError(f"{action}: permission denied ({code}): {message}", PERMISSION_HINT) from exc
        if exc.status_code is not None and 400 <= exc.status_code < 500:
            raise PolicyError(
                f"{action}: ARM refused it: {code}: {message}", "fix the policy files; ARM's message names the field"
            ) from exc
        raise PolicyAzureError(
            f"{action}: ARM answered {exc.status_code} {code}: {message}", "retry later; ARM had a problem"
        ) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise PolicyAzureError(
            f"{action}: Azure is unreachable: {_first_line(exc)}", "check the network and [policy].resource_manager_url"
        ) from exc


def _rest(model: object) -> JsonObject:
    """REST-shaped JSON of an SDK model (either SDK generation: msrest's serialize, or the newer as_dict)."""
    serialize, as_dict = getattr(model, "serialize", None), getattr(model, "as_dict", None)
    data: object = serialize(keep_readonly=True) if serialize else as_dict() if as_dict else None
    if not isinstance(data, dict):
        raise PolicyAzureError(
            f"ARM answered with a {type(model).__name__}, which is not a REST resource", "report this as a bug"
        )
    return dict(data)


def _path(scope: Scope) -> str:
    """Scope as the SDK's `{scope}` URL argument wants it (no leading slash)."""
    return scope.id.lstrip("/")


class PolicyArm:
    """Typed gateway over the three SDK clients."""

    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    def list_at(self, kind: Kind, scope_id: str) -> list[Resource]:
        """The resources of `kind` at exactly this scope."""
        scope = parse_scope(scope_id, allow_resource=kind == "roleAssignment")
        with azure_call(f"list {kind}s at {scope.id}"):
            items = [_rest(item) for item in self._pager(kind, scope)]
        if kind == "roleAssignment":
            items = [
                item
                for item in items
                if id_key(str(as_object(item.get("properties")).get("scope", ""))) == id_key(scope.id)
            ]
        return [Resource(kind, str(item.get("id", "")), item) for item in items]

    def _pager(self, kind: Kind, scope: Scope) -> Iterable[object]:
        mg, exact = scope.kind == "managementGroup", "atExactScope()"
        if kind == "roleAssignment":
            operations = self.clients.authorization(scope.subscription_id).role_assignments  # a multi-API client
            roles: Iterable[object] = operations.list_for_scope(_path(scope), filter="atScope()")
            return roles
        client = self.clients.policy(scope.subscription_id)
        if kind == "policyAssignment":
            assignments = client.policy_assignments
            return (
                assignments.list_for_management_group(scope.name, filter=exact)
                if mg
                else assignments.list(filter=exact)
            )
        if kind == "policySetDefinition":
            sets = client.policy_set_definitions
            return sets.list_by_management_group(scope.name, filter=exact) if mg else sets.list(filter=exact)
        definitions = client.policy_definitions
        return definitions.list_by_management_group(scope.name, filter=exact) if mg else definitions.list(filter=exact)

    def list_exemptions(self, scope_id: str) -> list[Resource]:
        """ARM's unfiltered list of exemptions at a scope: at it, above it and (unless it is a management group) below."""
        scope = parse_scope(scope_id, allow_resource=True)
        client = self.clients.resources(scope.subscription_id)
        url: str | None = f"{scope.id}{AUTHZ}/{POLICY_EXEMPTIONS}"
        params = {"api-version": EXEMPTION_API_VERSION}
        items: list[JsonObject] = []
        with azure_call(f"list policyExemptions at {scope.id}"):
            while url:
                response = client.send_request(HttpRequest("GET", url, params=params))
                if response.status_code != 200:
                    map_error(status_code=response.status_code, response=response, error_map=_ERRORS)
                    raise HttpResponseError(response=response, error_format=ARMErrorFormat)
                page = as_object(response.json())
                items.extend(item for item in as_array(page.get("value")) if isinstance(item, dict))
                next_link = page.get("nextLink")
                url, params = (next_link if isinstance(next_link, str) else None), {}  # the link carries the query
        return [Resource("policyExemption", str(item.get("id", "")), item) for item in items]

    def put(self, resource: Resource) -> Resource:
        """Create or update; returns what ARM stored."""
        if resource.kind == "policyExemption":
            return self._put_exemption(resource)
        scope_id, _, name = split_child_id(resource.id)
        scope = parse_scope(scope_id, allow_resource=resource.kind == "roleAssignment")
        if resource.kind == "roleAssignment":
            return self._put_role(scope, name, resource)
        client = self.clients.policy(scope.subscription_id)
        mg = scope.kind == "managementGroup"
        result: object
        with azure_call(f"write {resource.kind} {resource.id}"):
            if resource.kind == "policyDefinition":
                definition = PolicyDefinition(dict(resource.body))
                result = (
                    client.policy_definitions.create_or_update_at_management_group(scope.name, name, definition)
                    if mg
                    else client.policy_definitions.create_or_update(name, definition)
                )
            elif resource.kind == "policySetDefinition":
                initiative = PolicySetDefinition(dict(resource.body))
                result = (
                    client.policy_set_definitions.create_or_update_at_management_group(scope.name, name, initiative)
                    if mg
                    else client.policy_set_definitions.create_or_update(name, initiative)
                )
            else:
                result = client.policy_assignments.create(_path(scope), name, PolicyAssignment(dict(resource.body)))
        stored = _rest(result)
        return Resource(resource.kind, str(stored.get("id") or resource.id), stored)

    def _put_exemption(self, resource: Resource) -> Resource:
        scope = parse_scope(split_child_id(resource.id)[0], allow_resource=True)
        resources = self.clients.resources(scope.subscription_id).resources
        with azure_call(f"write policyExemption {resource.id}"):
            # The exemption API answers at once; polling=False keeps the generic LRO from waiting to poll a 201.
            poller = resources.begin_create_or_update_by_id(
                resource.id.lstrip("/"), dict(resource.body), api_version=EXEMPTION_API_VERSION, polling=False
            )
            stored = _rest(poller.result())
        return Resource("policyExemption", str(stored.get("id") or resource.id), stored)

    def _put_role(self, scope: Scope, name: str, resource: Resource) -> Resource:
        props = as_object(resource.body.get("properties"))
        description = props.get("description")
        parameters = RoleAssignmentCreateParameters(
            role_definition_id=str(props["roleDefinitionId"]),
            principal_id=str(props["principalId"]),
            principal_type="ServicePrincipal",
            description=description if isinstance(description, str) else None,
        )
        with azure_call(f"grant role at {scope.id}"):
            try:
                result = self.clients.authorization(scope.subscription_id).role_assignments.create(
                    _path(scope), name, parameters
                )
            except ResourceExistsError as exc:
                raise RoleAssignmentExists(_first_line(exc)) from exc
            except HttpResponseError as exc:
                if getattr(exc.error, "code", None) == "PrincipalNotFound":
                    raise PrincipalNotFound(_first_line(exc)) from exc
                raise
        stored = _rest(result)
        return Resource("roleAssignment", str(stored.get("id") or resource.id), stored)

    def delete(self, resource: Resource) -> None:
        """Delete; a resource that is already gone is fine."""
        scope_id, _, name = split_child_id(resource.id)
        scope = parse_scope(scope_id, allow_resource=resource.kind in ("roleAssignment", "policyExemption"))
        mg = scope.kind == "managementGroup"
        with azure_call(f"delete {resource.kind} {resource.id}"):
            try:
                if resource.kind == "policyExemption":
                    self.clients.resources(scope.subscription_id).resources.begin_delete_by_id(
                        resource.id.lstrip("/"), api_version=EXEMPTION_API_VERSION, polling=False
                    ).result()
                    return
                if resource.kind == "roleAssignment":
                    self.clients.authorization(scope.subscription_id).role_assignments.delete(_path(scope), name)
                    return
                client = self.clients.policy(scope.subscription_id)
                if resource.kind == "policyAssignment":
                    client.policy_assignments.delete(_path(scope), name)
                elif resource.kind == "policyDefinition":
                    (
                        client.policy_definitions.delete_at_management_group(scope.name, name)
                        if mg
                        else client.policy_definitions.delete(name)
                    )
                else:
                    (
                        client.policy_set_definitions.delete_at_management_group(scope.name, name)
                        if mg
                        else client.policy_set_definitions.delete(name)
                    )
            except ResourceNotFoundError:
                return

    def create_remediation(self, scope_id: str, name: str, assignment_id: str, reference_id: str | None) -> JsonObject:
        """Start a remediation task for existing non-compliant resources."""
        scope = parse_scope(scope_id)
        body = Remediation(
            policy_assignment_id=assignment_id,
            policy_definition_reference_id=reference_id,
            resource_discovery_mode="ExistingNonCompliant",
        )
        with azure_call(f"create remediation {name} at {scope.id}"):
            client = self.clients.insights(scope.subscription_id).remediations
            result = (
                client.create_or_update_at_management_group(scope.name, name, body)
                if scope.kind == "managementGroup"
                else client.create_or_update_at_subscription(name, body)
            )
        return _rest(result)

    def get_remediation(self, scope_id: str, name: str) -> JsonObject:
        """Current state of a remediation task."""
        scope = parse_scope(scope_id)
        with azure_call(f"read remediation {name} at {scope.id}"):
            client = self.clients.insights(scope.subscription_id).remediations
            result = (
                client.get_at_management_group(scope.name, name)
                if scope.kind == "managementGroup"
                else client.get_at_subscription(name)
            )
        return _rest(result)

    def summarize(self, scope_id: str) -> list[JsonObject]:
        """Latest policy-state summary per assignment affecting the scope."""
        scope = parse_scope(scope_id)
        with azure_call(f"summarize policy states at {scope.id}"):
            states = self.clients.insights(scope.subscription_id).policy_states
            result = (
                states.summarize_for_management_group("latest", scope.name)
                if scope.kind == "managementGroup"
                else states.summarize_for_subscription("latest", scope.name)
            )
        return [
            item
            for summary in as_array(_rest(result).get("value"))
            for item in as_array(as_object(summary).get("policyAssignments"))
            if isinstance(item, dict)
        ]


def _resource_scopes(values: Iterable[JsonValue], ring_scope: str) -> set[str]:
    """Scopes named by parameter values (such as a maintenance configuration) outside the ring scope."""
    out = set()
    for value in values:
        try:
            scope = parse_scope(str(value), allow_resource=True) if isinstance(value, str) else None
        except ValueError:
            continue
        if scope is not None and not is_within(scope.id, ring_scope):
            out.add(scope.id)
    return out


def read_deployed(arm: PolicyArm, desired: DesiredState) -> DeployedState:
    """What is deployed where the ring's resources live (every owner), role assignments at every role scope, and
    the exemptions that concern the ring."""
    definitions = arm.list_at("policyDefinition", desired.definition_scope)
    sets = arm.list_at("policySetDefinition", desired.definition_scope)
    assignments = arm.list_at("policyAssignment", desired.scope)
    scopes = {id_key(s): s for s in desired.role_scopes()}
    for assignment in assignments:
        parameters = as_object(as_object(assignment.body.get("properties")).get("parameters"))
        values = [wrapped.get("value") for wrapped in parameters.values() if isinstance(wrapped, dict)]
        for scope in _resource_scopes(values, desired.scope):
            scopes.setdefault(id_key(scope), scope)
    roles = [role for scope in scopes.values() for role in arm.list_at("roleAssignment", scope)]
    listed = [exemption for scope in listing_scopes(desired) for exemption in arm.list_exemptions(scope)]
    return DeployedState(
        tuple(definitions), tuple(sets), tuple(assignments), tuple(roles), ring_exemptions(listed, desired)
    )
