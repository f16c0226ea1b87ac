"""The AWS IAM provider's building blocks: users, groups, customer-managed policies and access keys.

- `client`: boto3 with the standard credential chain, adaptive retries, counted requests, `read_all()`;
- `canonical`: live entities -> canonical attributes; `policy`: canonical policy documents;
- `writes`: create/update/adopt/delete users, groups, policies; `keys`: access keys and rotation;
- `risks`: escalations in policy diffs; `errors`: one-line errors for every AWS failure.

boto3 is an optional dependency: `pip install 'keyform[aws]'`.
"""
