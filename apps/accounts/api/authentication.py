from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication


class TenantJWTAuthentication(JWTAuthentication):
    pass


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return None
