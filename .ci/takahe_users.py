# Run inside Takahē's Django shell (manage.py shell < .ci/takahe_users.py) after `migrate`, by .ci/peers.
# Makes the local domain, three users each with an identity, an OAuth application and a read+write bearer
# token per identity, and prints them as one JSON object (adapted from ../shared/peers/takahe/make_test_user.py).
import json
import os
import secrets

from api.models import Application, Token
from users.models import Domain, User
from users.services import IdentityService

DOMAIN = os.environ.get("TAKAHE_MAIN_DOMAIN", "127.0.0.1:8000")
domain, _ = Domain.objects.get_or_create(domain=DOMAIN, defaults=dict(local=True, public=True))
app = Application.create(client_name="stormcaller-test", redirect_uris="urn:ietf:wg:oauth:2.0:oob",
                         website=None, scopes="read write")
accounts = []
for name in ("storm", "rain", "hail"):
    user = User.objects.filter(email=f"{name}@example.com").first() or User.objects.create_user(
        email=f"{name}@example.com", password=f"{name}-password-1")
    user.admin = name == "storm"  # /api/v2/instance names an admin identity (500 without one)
    user.save()
    identity = IdentityService.create(user=user, username=name, domain=domain, name=f"{name.title()} Tester")
    token = Token.objects.create(application=app, user=user, identity=identity,
                                 token=secrets.token_urlsafe(43), scopes=["read", "write"])
    account = {"username": name, "token": token.token}
    if name == "storm":  # a token that may post but read nothing (what a too-narrow token looks like)
        account["write_only_token"] = Token.objects.create(application=app, user=user, identity=identity,
                                                           token=secrets.token_urlsafe(43), scopes=["write"]).token
    accounts.append(account)
print(json.dumps({"url": f"http://{DOMAIN}", "client_id": app.client_id, "client_secret": app.client_secret,
                  "accounts": accounts}))
