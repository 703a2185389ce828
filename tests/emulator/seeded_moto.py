#!/usr/bin/env python3
"""Serve a moto Cognito emulator whose user pools are already filled.

Creating thousands of users over HTTP is slow (10,000 AdminCreateUser calls
take ~35 s), so this fills moto's in-process backend directly and then serves
that very backend over HTTP on 127.0.0.1.

Everything is deterministic: moto's own random source (which makes pool ids and
each user's `sub`) and our data generator are seeded, and create/modify dates
are fixed, so the same options always give the same pools, ids and users.

Pools (see --help):
  main   N users (default 1200) named user0001..., with quirks chosen by index i
         (1-based) so tests can reason about them:
           i % 100 == 7      no email attribute at all
           i % 50 == 3       disabled
           i % 10 == 1       UNCONFIRMED
           i % 10 == 2       FORCE_CHANGE_PASSWORD
           i % 97 == 5       RESET_REQUIRED      (unless one of the two above)
           otherwise         CONFIRMED
           i % 3 == 0        custom:tenant in acme / globex / initech (by i//3 % 3)
           i % 4 == 0        phone_number +1555NNNNNNN
           i % 5 == 0 / 1    email_verified 'true' / 'false' (others: absent)
         and users 1..8 carry hand-picked awkward names (SPECIAL_NAMES below).
         Also groups (seed_groups), 64 app clients (seed_app_clients: with and
         without a secret, with OAuth settings; ids fixed by name, client_id()) and
         4 identity providers (seed_identity_providers: SAML, OIDC, Apple, Google,
         their details holding recognisable secrets).
  big    --big-users N users big00001..., each with a 2000-character custom:blob
  plain  --plain-users N users plain00001... (default 2000) with an email each
  empty  no users
  demo   12 friendly users (alice, bob, ...), mixed statuses, one disabled; 6 groups,
         6 app clients and 3 identity providers (seed_demo_apps)
  typmods  TYPMOD_USERS below: create/modify times with fractional seconds (moto sends
         milliseconds) next to day and year boundaries, names of 2 to 8 characters,
         non-ASCII ones and one with trailing blanks, for type modifiers and domains
  custom   CUSTOM_USERS below, in a pool whose schema has a custom attribute of each type
         (String, Number, DateTime, Boolean), one named like a documented column and one
         that is no plain SQL name; MFA optional, deletion protection on, a domain;
         CUSTOM_GROUPS (seed_custom_groups)
  configured  no users; username attributes, MFA on, an SMS configuration, a domain
Every pool's create and modify dates are fixed (a day apart, in creation order), for
object 'user_pools'.

Once serving, --state FILE receives:
  {"region": ..., "endpoint": "http://127.0.0.1:PORT", "account_id": ...,
   "pools": {"main": {"id": ..., "users": N, "counts": {...}}, ...}}
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import signal
import sys
import threading
import time

ACCOUNT_ID = "123456789012"
SEED = 20240101
BASE_DATE = datetime.datetime(2024, 1, 1, 0, 0, 0)

GIVEN = ["Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret", "Dennis",
         "Frances", "Edsger", "Radia", "Donald", "Hedy", "John", "Katherine", "Niklaus"]
FAMILY = ["Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson", "Hamilton",
          "Ritchie", "Allen", "Dijkstra", "Perlman", "Knuth", "Lamarr", "Backus",
          "Johnson", "Wirth"]

# (given_name, family_name) for main-pool users 1..8: non-ASCII, emoji, quotes, backslashes.
SPECIAL_NAMES = [
    ("Zoë", "Ångström"),
    ("José", "Muñoz"),
    ("山田", "太郎"),
    ("🦀 Ferris", "Crab 🎉"),
    ("Conan", 'O\'Brien "the \\ one"'),
    ('Say "hi"', "it's"),
    ("back\\slash\\", "C:\\Users\\x"),
    ("Ελένη", "Ιωάννου"),
]

TENANTS = ["acme", "globex", "initech"]

DEMO_USERS = [
    # username, given, family, status, enabled, tenant
    ("alice", "Alice", "Anderson", "CONFIRMED", True, "acme"),
    ("bob", "Bob", "Brown", "CONFIRMED", True, "acme"),
    ("carol", "Carol", "Clark", "FORCE_CHANGE_PASSWORD", True, "globex"),
    ("dave", "Dave", "Davis", "CONFIRMED", False, "globex"),
    ("erin", "Erin", "Evans", "UNCONFIRMED", True, "initech"),
    ("frank", "Frank", "Fischer", "CONFIRMED", True, "acme"),
    ("grace", "Grace", "Garcia", "CONFIRMED", True, "initech"),
    ("heidi", "Heidi", "Hoffmann", "RESET_REQUIRED", True, "globex"),
    ("ivan", "Ivan", "Ivanov", "CONFIRMED", True, "acme"),
    ("judy", "Judy", "Jones", "UNCONFIRMED", True, "initech"),
    ("mallory", "Mallory", "Miller", "CONFIRMED", False, "globex"),
    ("zoe", "Zoë", "Ångström", "CONFIRMED", True, "acme"),
]


# username, given_name (trailing blanks kept), custom:code, created, modified (UTC).
TYPMOD_USERS = [
    ("ann", "Ann", "ab", datetime.datetime(2024, 6, 30, 23, 59, 59, 500000),
     datetime.datetime(2024, 6, 30, 23, 59, 59, 499000)),
    ("bo", "Bo  ", "abcde", datetime.datetime(2024, 1, 1, 12, 34, 56, 789000),
     datetime.datetime(2024, 1, 1, 12, 34, 56, 790000)),
    ("zoë", "Zoë", "ab   ", datetime.datetime(1999, 12, 31, 23, 59, 59, 999000),
     datetime.datetime(2000, 1, 1, 0, 0, 0)),
    ("mallory", "Mallory", None, datetime.datetime(2024, 2, 29, 8, 0, 0, 1000),
     datetime.datetime(2024, 3, 1, 8, 0, 0, 5000)),
]


# The day after BASE_DATE each pool is created on.
POOL_DAYS = {"main": 0, "big": 1, "plain": 2, "empty": 3, "demo": 4, "typmods": 5,
             "custom": 6, "configured": 7}


def schema(*custom):
    """Standard attributes plus custom String attributes (moto drops the
    standard ones from DescribeUserPool once any Schema is given)."""
    from moto.cognitoidp.models import CognitoIdpUserPoolAttribute

    attrs = [dict(spec, Name=name)
             for name, spec in CognitoIdpUserPoolAttribute.STANDARD_SCHEMA.items()]
    for name, max_len in custom:
        attrs.append({"Name": name, "AttributeDataType": "String", "Mutable": True,
                      "StringAttributeConstraints": {"MinLength": "0",
                                                     "MaxLength": str(max_len)}})
    return attrs


class Seeder:
    def __init__(self, backend):
        self.backend = backend
        self.user_no = 0  # drives the fixed create dates

    def pool(self, name, *custom, config=None, attributes=None):
        """A pool with custom String attributes (name, max length), or the schema entries
        `attributes`, and `config` for the rest of CreateUserPool's parameters."""
        from moto.moto_api._internal import mock_random

        # Reseed per pool so a pool's id and subs do not depend on which
        # other pools were created or how big they are.
        mock_random.seed(f"{SEED}-{name}")
        extended = dict(config or {}, Schema=schema(*custom) + list(attributes or ()))
        pool = self.backend.create_user_pool(name, extended)
        # Fixed dates by pool name, so that no pool's depend on which others exist.
        day = POOL_DAYS.get(name, 0)
        pool.creation_date = BASE_DATE + datetime.timedelta(days=day)
        pool.last_modified_date = pool.creation_date + datetime.timedelta(days=1)
        return pool.id

    def user(self, pool_id, username, attrs, status="CONFIRMED", enabled=True):
        from moto.cognitoidp.models import UserStatus

        user = self.backend.admin_create_user(
            pool_id, username, "SUPPRESS", "Temp-Passw0rd!",
            [{"Name": k, "Value": v} for k, v in attrs.items()])
        # admin_create_user always gives FORCE_CHANGE_PASSWORD; moto has no
        # admin call for UNCONFIRMED, so set the status field directly.
        user.status = UserStatus[status]
        user.enabled = enabled
        self.user_no += 1
        user.create_date = BASE_DATE + datetime.timedelta(minutes=self.user_no)
        user.last_modified_date = user.create_date + datetime.timedelta(seconds=30)
        return user


def seed_main(s, n):
    rng = random.Random(SEED)
    pool_id = s.pool("main", ("tenant", 256))
    width = max(4, len(str(n)))
    counts = {"no_email": 0, "disabled": 0, "tenant": 0, "phone_number": 0,
              "status": {}}
    for i in range(1, n + 1):
        username = f"user{i:0{width}d}"
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        if i <= len(SPECIAL_NAMES):
            given, family = SPECIAL_NAMES[i - 1]
        attrs = {"given_name": given, "family_name": family}
        if i % 100 == 7:
            counts["no_email"] += 1
        else:
            attrs["email"] = f"{username}@example.com"
        if i % 5 == 0:
            attrs["email_verified"] = "true"
        elif i % 5 == 1:
            attrs["email_verified"] = "false"
        if i % 3 == 0:
            attrs["custom:tenant"] = TENANTS[(i // 3) % 3]
            counts["tenant"] += 1
        if i % 4 == 0:
            attrs["phone_number"] = f"+1555{i:07d}"
            counts["phone_number"] += 1
        if i % 10 == 1:
            status = "UNCONFIRMED"
        elif i % 10 == 2:
            status = "FORCE_CHANGE_PASSWORD"
        elif i % 97 == 5:
            status = "RESET_REQUIRED"
        else:
            status = "CONFIRMED"
        counts["status"][status] = counts["status"].get(status, 0) + 1
        enabled = i % 50 != 3
        counts["disabled"] += not enabled
        s.user(pool_id, username, attrs, status, enabled)
    return {"id": pool_id, "users": n, "counts": counts, **seed_groups(s, pool_id, n),
            **seed_app_clients(s, pool_id), **seed_identity_providers(s, pool_id)}


# Groups of the main pool: the named ones first, then teams, 70 in all (more than one
# ListGroups page of 60).
NAMED_GROUPS = [
    # (name, description, precedence, role_arn, members: user numbers)
    ("admins", "Administrators", 1, "arn:aws:iam::123456789012:role/admins", range(1, 151)),
    ("editors", "Can edit", 5, None, range(1, 11)),
    ("viewers", "Read only", None, None, range(7, 1201, 7)),
    ("empty", None, None, None, range(0)),
]
TEAM_GROUPS = 66


def seed_groups(s, pool_id, users):
    """Groups with and without descriptions, precedences and roles; admins has many
    members, empty none, users 7 and 10 are in several (for group_members)."""
    width = max(4, len(str(users)))
    groups = [(name, desc, prec, role, members)
              for name, desc, prec, role, members in NAMED_GROUPS]
    for i in range(1, TEAM_GROUPS + 1):
        groups.append((f"team{i:02d}", f"Team {i}", i * 10 if i % 3 else None,
                       f"arn:aws:iam::123456789012:role/team{i:02d}" if i % 5 == 0 else None,
                       [i] if i <= users else []))
    members = {}
    for n, (name, desc, prec, role, who) in enumerate(groups, start=1):
        group = s.backend.create_group(pool_id, name, desc, role, prec)
        group.creation_date = BASE_DATE + datetime.timedelta(days=30, minutes=n)
        group.last_modified_date = group.creation_date + datetime.timedelta(hours=1)
        count = 0
        for i in who:
            if 1 <= i <= users:
                s.backend.admin_add_user_to_group(pool_id, name, f"user{i:0{width}d}")
                count += 1
        members[name] = count
    return {"groups": len(groups), "members": members}


# App clients of the main pool: the named ones, then plain service clients, 64 in all (more
# than one ListUserPoolClients page of 60). Every third service client has a secret.
NAMED_CLIENTS = [
    # (name, generate_secret, settings as CreateUserPoolClient takes them)
    ("web", False, {
        "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email", "profile"],
        "CallbackURLs": ["https://app.example.com/callback"],
        "LogoutURLs": ["https://app.example.com/logout"],
        "SupportedIdentityProviders": ["COGNITO", "ExampleSAML", "ExampleOIDC"],
    }),
    ("backend", True, {
        "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["client_credentials"],
        "AllowedOAuthScopes": ["api/read", "api/write"],
        "AccessTokenValidity": 1,
        "TokenValidityUnits": {"AccessToken": "hours"},
    }),
    ("legacy-spa", False, {
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["implicit", "code"],
        "AllowedOAuthScopes": ["openid"],
        "CallbackURLs": ["https://old.example.com/cb", "http://localhost:3000/cb"],
        "SupportedIdentityProviders": ["COGNITO"],
    }),
    ("partner", True, {
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email"],
        "CallbackURLs": ["https://partner.example.org/oauth"],
        "SupportedIdentityProviders": ["ExampleOIDC"],
    }),
    ("bare", False, {}),
]
SERVICE_CLIENTS = 59


def client_id(name):
    """A fixed id of Cognito's shape (26 lowercase letters and digits) for a client name, so
    that expected files can name clients by id whatever else the seed creates."""
    digits = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(26):
        digits, r = divmod(digits, 36)
        out += alphabet[r]
    return out


def seed_app_clients(s, pool_id):
    """App clients with and without a secret, with and without OAuth settings. moto sends no
    CreationDate or LastModifiedDate for a client (AWS does): the seed puts fixed ones in the
    settings moto echoes, so that created_at and updated_at are tested too."""
    pool = s.backend.user_pools[pool_id]
    clients = list(NAMED_CLIENTS) + [
        (f"svc{i:02d}", i % 3 == 0, {"ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"]})
        for i in range(1, SERVICE_CLIENTS + 1)]
    with_secret = 0
    for n, (name, secret, settings) in enumerate(clients, start=1):
        created = BASE_DATE + datetime.timedelta(days=60, minutes=n)
        client = s.backend.create_user_pool_client(pool_id, secret, {
            "ClientName": name, **settings,
            "CreationDate": created,
            "LastModifiedDate": created + datetime.timedelta(hours=2)})
        del pool.clients[client.id]
        client.id = client_id(name)
        # A secret of AWS's shape, but recognisable: the secrets test looks for it.
        client.secret = "clientsecret" + hashlib.sha256(name.encode()).hexdigest()[:39]
        pool.clients[client.id] = client
        with_secret += secret
    return {"app_clients": len(clients), "app_clients_with_secret": with_secret}


# Identity providers of the main pool: one of each kind of details (SAML metadata, OIDC with a
# client secret, Sign in with Apple with a private key, Google with a client secret).
IDENTITY_PROVIDERS = [
    ("ExampleSAML", "SAML", {
        "MetadataURL": "https://idp.example.com/saml/metadata",
        "IDPSignout": "true",
    }, {"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
        ["example.com", "example.org"]),
    ("ExampleOIDC", "OIDC", {
        "client_id": "oidc-client-id",
        "client_secret": "oidcsecret-never-shown-1f3a",
        "attributes_request_method": "GET",
        "oidc_issuer": "https://login.example.net",
        "authorize_scopes": "openid email",
    }, {"email": "email", "name": "name", "username": "sub"}, []),
    ("SignInWithApple", "SignInWithApple", {
        "client_id": "com.example.app",
        "team_id": "TEAM123456",
        "key_id": "KEY1234567",
        "private_key": "-----BEGIN PRIVATE KEY-----applekey-never-shown-77c2"
                       "-----END PRIVATE KEY-----",
        "authorize_scopes": "email name",
    }, {"email": "email"}, []),
    ("Google", "Google", {
        "client_id": "1234-google.apps.example.com",
        "client_secret": "googlesecret-never-shown-90ab",
        "authorize_scopes": "profile email openid",
    }, {"email": "email", "given_name": "given_name"}, []),
]


def seed_identity_providers(s, pool_id):
    """Identity providers whose details hold secrets (which no column may show)."""
    for n, (name, kind, details, mapping, identifiers) in enumerate(IDENTITY_PROVIDERS, 1):
        settings = {"ProviderType": kind, "ProviderDetails": details,
                    "AttributeMapping": mapping}
        if identifiers:
            settings["IdpIdentifiers"] = identifiers
        provider = s.backend.create_identity_provider(pool_id, name, settings)
        provider.creation_date = BASE_DATE + datetime.timedelta(days=90, minutes=n)
        provider.last_modified_date = provider.creation_date + datetime.timedelta(hours=3)
    return {"identity_providers": len(IDENTITY_PROVIDERS)}


def seed_big(s, n):
    pool_id = s.pool("big", ("blob", 2048))
    for i in range(1, n + 1):
        username = f"big{i:05d}"
        # Cheap deterministic filler; 2000 chars stays under Cognito's 2048 limit.
        blob = (hashlib.sha256(username.encode()).hexdigest() * 32)[:2000]
        s.user(pool_id, username, {"email": f"{username}@example.com",
                                   "given_name": "Big", "family_name": f"User {i}",
                                   "custom:blob": blob})
    return {"id": pool_id, "users": n}


def seed_plain(s, n):
    pool_id = s.pool("plain")
    for i in range(1, n + 1):
        username = f"plain{i:05d}"
        s.user(pool_id, username, {"email": f"{username}@example.com"})
    return {"id": pool_id, "users": n}


# Groups of the demo pool, small enough to list whole for every clause of a differential
# test: a user in several, an empty group, names that differ only in case, a quote, non-ASCII.
DEMO_GROUPS = [
    # (name, description, precedence, members)
    ("staff", "Everyone on staff", 10, ["alice", "bob", "carol", "dave", "zoe"]),
    ("Staff", "Same name, other case", None, ["alice"]),
    ("ops", None, 1, ["bob", "erin", "mallory"]),
    ("it's-ops", "A quote in the name", 2, ["bob"]),
    ("équipe", "Non-ASCII", None, ["zoe", "frank"]),
    ("empty", "No members", 99, []),
]


def seed_demo(s):
    pool_id = s.pool("demo", ("tenant", 256))
    for username, given, family, status, enabled, tenant in DEMO_USERS:
        s.user(pool_id, username, {
            "email": f"{username}@example.com", "email_verified": "true",
            "given_name": given, "family_name": family, "custom:tenant": tenant,
        }, status, enabled)
    for n, (name, desc, prec, members) in enumerate(DEMO_GROUPS, start=1):
        group = s.backend.create_group(pool_id, name, desc, None, prec)
        group.creation_date = BASE_DATE + datetime.timedelta(days=60, minutes=n)
        group.last_modified_date = group.creation_date
        for username in members:
            s.backend.admin_add_user_to_group(pool_id, name, username)
    return {"id": pool_id, "users": len(DEMO_USERS), "groups": len(DEMO_GROUPS),
            "memberships": sum(len(g[3]) for g in DEMO_GROUPS), **seed_demo_apps(s, pool_id)}


# App clients and identity providers of the demo pool, few enough to describe whole for every
# clause of a differential test (each Describe is capped at 5 a second per pool): two clients
# of the same name, names that differ only in case, white space, non-ASCII; with and without
# a secret and OAuth settings. Names keep to AWS's pattern ([\w\s+=,.@-]+).
DEMO_CLIENTS = [
    # (name, secret, settings)
    ("web", True, {"ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                   "AllowedOAuthFlows": ["code"], "AllowedOAuthScopes": ["openid", "email"],
                   "AllowedOAuthFlowsUserPoolClient": True,
                   "CallbackURLs": ["https://app.example.com/callback"],
                   "LogoutURLs": ["https://app.example.com/"],
                   "SupportedIdentityProviders": ["COGNITO", "DemoSAML"]}),
    ("Web", False, {"AllowedOAuthFlows": ["implicit"], "AllowedOAuthScopes": ["openid"],
                    "AllowedOAuthFlowsUserPoolClient": True,
                    "CallbackURLs": ["https://spa.example.com/", "http://localhost:3000/"],
                    "SupportedIdentityProviders": ["COGNITO"]}),
    ("web", False, {"ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"]}),
    ("mobile app", False, {"ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH"],
                           "SupportedIdentityProviders": ["Google"]}),
    ("équipe", False, {}),
    ("back-end", True, {"AllowedOAuthFlows": ["client_credentials"],
                        "AllowedOAuthScopes": ["api/read", "api/write"],
                        "AllowedOAuthFlowsUserPoolClient": True}),
]

DEMO_PROVIDERS = [
    # (name, type, details, attribute mapping, identifiers)
    ("DemoSAML", "SAML", {"MetadataURL": "https://sso.example.org/metadata",
                          "IDPSignout": "false"},
     {"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
      "name": "displayName"}, ["example.org"]),
    ("DemoOIDC", "OIDC", {"client_id": "demo-oidc", "client_secret": "demosecret-never-shown-5e",
                          "attributes_request_method": "POST",
                          "oidc_issuer": "https://id.example.org", "authorize_scopes": "openid"},
     {"email": "email"}, ["id.example.org", "example.net"]),
    ("Google", "Google", {"client_id": "demo-google", "client_secret": "demogoogle-never-shown",
                          "authorize_scopes": "profile email openid"},
     {"given_name": "given_name"}, []),
]


def seed_demo_apps(s, pool_id):
    """The demo pool's app clients (ids fixed by position and name) and identity providers,
    with fixed dates, for tests/e2e/test_differential_objects_described.py."""
    pool = s.backend.user_pools[pool_id]
    for n, (name, secret, settings) in enumerate(DEMO_CLIENTS, start=1):
        created = BASE_DATE + datetime.timedelta(days=61, minutes=n)
        client = s.backend.create_user_pool_client(pool_id, secret, {
            "ClientName": name, **settings, "CreationDate": created,
            "LastModifiedDate": created + datetime.timedelta(hours=n)})
        del pool.clients[client.id]
        client.id = client_id(f"demo {n} {name}")
        client.secret = "democlientsecret" + hashlib.sha256(name.encode()).hexdigest()[:30]
        pool.clients[client.id] = client
    for n, (name, kind, details, mapping, identifiers) in enumerate(DEMO_PROVIDERS, start=1):
        settings = {"ProviderType": kind, "ProviderDetails": details,
                    "AttributeMapping": mapping}
        if identifiers:
            settings["IdpIdentifiers"] = identifiers
        provider = s.backend.create_identity_provider(pool_id, name, settings)
        provider.creation_date = BASE_DATE + datetime.timedelta(days=91, minutes=n)
        provider.last_modified_date = provider.creation_date + datetime.timedelta(hours=n)
    return {"app_clients": len(DEMO_CLIENTS), "identity_providers": len(DEMO_PROVIDERS)}


def seed_teams(s, groups, members):
    """The benchmark's pool of groups: GROUPS groups team001.. of MEMBERS users each, every
    user in one group."""
    pool_id = s.pool("teams")
    for g in range(1, groups + 1):
        name = f"team{g:03d}"
        s.backend.create_group(pool_id, name, f"Team {g}", None, None)
        for m in range(1, members + 1):
            username = f"t{g:03d}m{m:04d}"
            s.user(pool_id, username, {"email": f"{username}@example.com"})
            s.backend.admin_add_user_to_group(pool_id, name, username)
    return {"id": pool_id, "users": groups * members, "groups": groups,
            "memberships": groups * members}


def seed_apps(s, clients):
    """The benchmark's pool of app clients: CLIENTS clients app001.., each with the settings
    only DescribeUserPoolClient gives, every third with a secret."""
    pool_id = s.pool("apps")
    for n in range(1, clients + 1):
        s.backend.create_user_pool_client(pool_id, n % 3 == 0, {
            "ClientName": f"app{n:03d}", "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
            "CallbackURLs": [f"https://app{n:03d}.example.com/callback"]})
    return {"id": pool_id, "users": 0, "app_clients": clients}


def seed_typmods(s):
    pool_id = s.pool("typmods", ("code", 16))
    for username, given, code, created, modified in TYPMOD_USERS:
        attrs = {"given_name": given}
        if code is not None:
            attrs["custom:code"] = code
        user = s.user(pool_id, username, attrs)
        user.create_date, user.last_modified_date = created, modified
    return {"id": pool_id, "users": len(TYPMOD_USERS)}


# Custom attributes of each type (moto keeps their names with the custom: prefix).
CUSTOM_ATTRIBUTES = [
    {"Name": "tenant_id", "AttributeDataType": "String", "Mutable": False,
     "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}},
    {"Name": "seats", "AttributeDataType": "Number", "Mutable": True,
     "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "100000"}},
    {"Name": "renewed_at", "AttributeDataType": "DateTime", "Mutable": True},
    {"Name": "active", "AttributeDataType": "Boolean", "Mutable": True},
    # Named like a documented column of users, and a name that is no plain SQL identifier.
    {"Name": "status", "AttributeDataType": "String", "Mutable": True,
     "StringAttributeConstraints": {"MinLength": "0", "MaxLength": "256"}},
    {"Name": "Team-Name", "AttributeDataType": "String", "Mutable": True,
     "StringAttributeConstraints": {"MinLength": "0", "MaxLength": "32"}},
]

# username, custom attributes (values as Cognito keeps them: strings).
CUSTOM_USERS = [
    ("ann", {"custom:tenant_id": "acme", "custom:seats": "12",
             "custom:renewed_at": "2024-05-01T10:30:00Z", "custom:active": "true",
             "custom:status": "gold", "custom:Team-Name": "Red"}),
    ("ben", {"custom:tenant_id": "globex", "custom:seats": "0",
             "custom:renewed_at": "2024-02-29", "custom:active": "false"}),
    ("cy", {}),
]


def seed_custom(s):
    pool_id = s.pool("custom", attributes=CUSTOM_ATTRIBUTES,
                     config={"MfaConfiguration": "OPTIONAL", "DeletionProtection": "ACTIVE",
                             "UserPoolTier": "PLUS"})
    s.backend.create_user_pool_domain(pool_id, "custom-auth")
    for username, attrs in CUSTOM_USERS:
        user = s.user(pool_id, username, {"email": f"{username}@example.com", **attrs})
        user.create_date = BASE_DATE + datetime.timedelta(days=6, hours=len(username))
        user.last_modified_date = user.create_date
    seed_custom_groups(s, pool_id)
    return {"id": pool_id, "users": len(CUSTOM_USERS)}


# Groups of the custom pool (name, members), so that group_members reads custom attributes
# through each of its requests: ann is in both, cy has no custom attribute.
CUSTOM_GROUPS = [("crew", ["ann", "ben", "cy"]), ("leads", ["ann"])]


def seed_custom_groups(s, pool_id):
    for n, (name, members) in enumerate(CUSTOM_GROUPS, start=1):
        group = s.backend.create_group(pool_id, name, None, None, None)
        group.creation_date = BASE_DATE + datetime.timedelta(days=36, minutes=n)
        group.last_modified_date = group.creation_date
        for username in members:
            s.backend.admin_add_user_to_group(pool_id, name, username)


def seed_configured(s):
    pool_id = s.pool("configured", config={
        "MfaConfiguration": "ON", "DeletionProtection": "INACTIVE",
        "UserPoolTier": "ESSENTIALS", "UsernameAttributes": ["email", "phone_number"],
        "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms",
                             "ExternalId": "configured-sms"}})
    s.backend.create_user_pool_domain(pool_id, "configured-auth")
    return {"id": pool_id, "users": 0}


def strict_attributes_to_get():
    """Answer ListUsers as AWS documents for AttributesToGet, which moto does not: "Amazon
    Cognito returns an error if not all users in the results have set a value for the
    attribute you request". Without this, asking for an attribute that some user lacks would
    pass here and fail against AWS."""
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.cognitoidp.models import CognitoIdpUser

    plain = CognitoIdpUser.to_json

    def to_json(self, *args, attributes_to_get=None, **kwargs):
        have = {attr["Name"] for attr in self.attributes}
        missing = sorted(set(attributes_to_get or ()) - have)
        if missing:
            raise InvalidParameterException(
                f"user {self.username} has no value for requested attribute {missing[0]}")
        return plain(self, *args, attributes_to_get=attributes_to_get, **kwargs)

    CognitoIdpUser.to_json = to_json


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--state", help="write pool ids/counts here as JSON once serving")
    ap.add_argument("--pools", default="main,big,plain,empty,demo,typmods,custom,configured",
                    help="comma-separated subset of main,big,plain,empty,demo,typmods,"
                         "custom,configured,teams,apps (teams, apps: the benchmark's groups "
                         "and app clients, not made by default)")
    ap.add_argument("--main-users", type=int, default=1200)
    ap.add_argument("--big-users", type=int, default=0,
                    help="users in the big pool; 0 = do not create it")
    ap.add_argument("--plain-users", type=int, default=2000)
    ap.add_argument("--teams", default="50x100",
                    help="GROUPSxMEMBERS of the teams pool (only with --pools ...,teams)")
    ap.add_argument("--apps", type=int, default=64,
                    help="app clients of the apps pool (only with --pools ...,apps)")
    args = ap.parse_args()

    from moto.cognitoidp.models import cognitoidp_backends
    from moto.server import ThreadedMotoServer

    strict_attributes_to_get()

    s = Seeder(cognitoidp_backends[ACCOUNT_ID][args.region])
    wanted = set(args.pools.split(","))
    pools = {}
    t0 = time.monotonic()
    if "main" in wanted:
        pools["main"] = seed_main(s, args.main_users)
    if "big" in wanted and args.big_users > 0:
        pools["big"] = seed_big(s, args.big_users)
    if "empty" in wanted:
        pools["empty"] = {"id": s.pool("empty"), "users": 0}
    if "demo" in wanted:
        pools["demo"] = seed_demo(s)
    # Last, so that it shifts no other pool's create dates (they follow creation order).
    if "plain" in wanted:
        pools["plain"] = seed_plain(s, args.plain_users)
    # Its dates are its own, but it still counts users: after every other pool.
    if "typmods" in wanted:
        pools["typmods"] = seed_typmods(s)
    # Their users' dates are their own: after every other pool.
    if "custom" in wanted:
        pools["custom"] = seed_custom(s)
    if "configured" in wanted:
        pools["configured"] = seed_configured(s)
    if "teams" in wanted:
        groups, members = (int(n) for n in args.teams.split("x"))
        pools["teams"] = seed_teams(s, groups, members)
    if "apps" in wanted:
        pools["apps"] = seed_apps(s, args.apps)
    seed_secs = time.monotonic() - t0

    # ThreadedMotoServer dispatches to the module-level cognitoidp_backends we
    # just filled; the region of each request comes from its SigV4 scope.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{args.port}"
    state = {"region": args.region, "endpoint": endpoint, "account_id": ACCOUNT_ID,
             "seed_seconds": round(seed_secs, 3), "pools": pools}
    if args.state:
        tmp = args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, args.state)  # readers never see a half-written file
    print(f"seeded_moto: serving {endpoint} ({args.region}), seeded in {seed_secs:.2f}s: "
          + ", ".join(f"{k}={v['id']} ({v['users']})" for k, v in pools.items()),
          flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
