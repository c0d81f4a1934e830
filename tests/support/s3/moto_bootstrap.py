"""Leaves credentials for the s3 tests in a moto server that enforces signing.

moto started with INITIAL_NO_AUTH_ACTION_COUNT=0 checks every request's
signature against its own IAM, where nobody exists yet. Its /moto-api/
endpoints are not AWS calls and are never checked: POST /moto-api/reset-auth
sets the number of free (unchecked) requests and restarts the count. So:
open a window of free requests, create an IAM user with an access key and a
role the user may assume, close the window (0 free requests), and then, signed
with the new key as any later client is, assume the role through STS for
temporary credentials.

Writes into <dir>:
  access_key_id, secret_access_key   the user's long-term key
  session.json                       {AccessKeyId, SecretAccessKey, SessionToken,
                                      Expiration} from sts:AssumeRole

Usage: moto_bootstrap.py <endpoint> <dir>
"""

import json
import os
import sys
import urllib.request

import boto3

ALLOW_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
)


def set_free_requests(endpoint: str, count: str) -> None:
    req = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=count.encode(),
        method="POST",
        # Not a form: moto reads the raw body.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        if resp.status != 200:
            raise SystemExit(f"moto_bootstrap: reset-auth answered {resp.status}")


def client(service: str, endpoint: str, key: str, secret: str, token: str = None):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def write(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main() -> None:
    endpoint, out = sys.argv[1], sys.argv[2]

    set_free_requests(endpoint, "inf")
    iam = client("iam", endpoint, "bootstrap", "bootstrap")
    user = iam.create_user(UserName="tern-tests")["User"]
    iam.put_user_policy(UserName="tern-tests", PolicyName="all", PolicyDocument=ALLOW_ALL)
    key = iam.create_access_key(UserName="tern-tests")["AccessKey"]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": user["Arn"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    # 12 hours: longer than any test run.
    role = iam.create_role(
        RoleName="tern-tests-writer",
        AssumeRolePolicyDocument=trust,
        MaxSessionDuration=43200,
    )
    iam.put_role_policy(
        RoleName="tern-tests-writer", PolicyName="all", PolicyDocument=ALLOW_ALL
    )
    set_free_requests(endpoint, "0")

    # From here on every request is checked: this one proves the key works.
    sts = client("sts", endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.assume_role(
        RoleArn=role["Role"]["Arn"], RoleSessionName="tern-tests", DurationSeconds=43200
    )["Credentials"]

    write(os.path.join(out, "access_key_id"), key["AccessKeyId"])
    write(os.path.join(out, "secret_access_key"), key["SecretAccessKey"])
    write(
        os.path.join(out, "session.json"),
        json.dumps(
            {
                "AccessKeyId": creds["AccessKeyId"],
                "SecretAccessKey": creds["SecretAccessKey"],
                "SessionToken": creds["SessionToken"],
                "Expiration": creds["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        + "\n",
    )


if __name__ == "__main__":
    main()
