"""The admin carries the project's branding (templates/admin/base_site.html)."""
import pytest

pytestmark = pytest.mark.django_db


def test_admin_login_page_is_branded(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="site-name"><a href="/admin/">amm — operations</a></div>' in html
    assert "<title>Log in | amm — operations</title>" in html
    assert "Django administration" not in html
