"""What plan refuses up front against the real server, instead of planning nothing or failing at apply."""

from __future__ import annotations


def test_a_target_that_exists_nowhere_is_an_error_with_a_suggestion(org):
    result = org.keyform("plan", "--target", "users/tom.beker@acme.example")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --target users/tom.beker@acme.example: no such address in the desired state or the live state"
        " (did you mean 'users/tom.becker@acme.example'?)\n",
    )
    applied = org.keyform("apply", "--auto-approve", "--target", "roles/nope")
    assert applied.exit_code == 1
    assert "Error: --target roles/nope: no such address in the desired state or the live state" in applied.stderr
    assert "No changes" not in applied.stdout


def test_a_target_that_is_only_live_is_still_planned(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    client = org.api()
    try:
        client.request("POST", "/v1/roles", what="stray", json={"name": "stray", "description": "x"})
    finally:
        client.close()
    result = org.keyform("plan", "--target", "roles/stray")
    assert result.exit_code == 0, result.output
    assert "No changes" in result.stdout  # unmanaged and safety.unmanaged is report: nothing to do, not an error


def test_replace_of_an_unknown_credential_suggests_the_close_one(org):
    result = org.keyform("plan", "--replace", "credentials/payrol-sync")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: --replace credentials/payrol-sync: no such credential is declared"
        " (did you mean 'credentials/payroll-sync'?)\n",
    )


def test_rotate_of_a_role_says_roles_have_no_secret_and_lists_what_can_be_rotated(org):
    result = org.keyform("rotate", "--auto-approve", "roles/reporting")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: rotate roles/reporting: roles have no secret to rotate; only credentials and users with an"
        " enabled api_key do (here: credentials/bi-reporting, credentials/legacy-export, credentials/payroll-sync,"
        " credentials/shift-planner, users/data.manager@acme.example and 2 more)\n",
    )
    assert "--replace" not in result.stderr and "--target" not in result.stderr
    keyless = org.keyform("rotate", "--auto-approve", "users/lena.wolf@acme.example")
    assert keyless.stderr == (
        "Error: rotate users/lena.wolf@acme.example: this user has no enabled api_key, so no secret to rotate"
        " (declare api_key: {enabled: true})\n"
    )


def test_removing_a_role_an_unmanaged_credential_holds_is_refused_at_plan_time_naming_the_holder(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    client = org.api()
    try:
        client.request(
            "POST", "/v1/credentials", what="ops-script", json={"name": "ops-script", "roles": ["time-keeper"]}
        )
    finally:
        client.close()
    roles = org.workdir / "access" / "roles.yaml"
    text = roles.read_text()
    start = text.index("  time-keeper:")
    roles.write_text(text[:start] + text[text.index("  reporting:") :])
    credentials = org.workdir / "access" / "credentials.yaml"
    credentials.write_text(credentials.read_text().replace("    roles: [time-keeper]\n", ""))
    people = org.workdir / "access" / "people.yaml"
    people.write_text(people.read_text().replace("roles: [hr-reader, time-keeper]", "roles: [hr-reader]"))
    result = org.keyform("plan")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: unsafe plan: roles/time-keeper would be deleted but is still held by unmanaged"
        " credentials/ops-script, and the API refuses to delete a role in use: keep roles/time-keeper declared,"
        " or take the role away from credentials/ops-script first (--allow-unsafe does not override this)\n",
    )
    assert org.keyform("apply", "--auto-approve", "--allow-unsafe").exit_code == 1
    assert org.find("roles", "time-keeper")["name"] == "time-keeper"
    assert "time-keeper" in org.find("credentials", "shift-planner")["roles"]  # nothing was half-applied


def test_a_target_that_is_not_an_address_says_so_with_an_example_from_the_desired_state(org):
    result = org.keyform("plan", "--target", "payroll-sync")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --target payroll-sync: not an address (use KIND/NAME, e.g. ")
    address = result.stderr.split("e.g. ", 1)[1].rstrip(")\n")
    assert org.keyform("plan", "--target", address).exit_code == 0
