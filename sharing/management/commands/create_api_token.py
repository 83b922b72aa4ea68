from django.core.management.base import BaseCommand, CommandError

from sharing.models import ApiToken, User


class Command(BaseCommand):
    help = (
        "Create an API bearer token for USERNAME. The token is printed once, as the last "
        "word of the output; only its digest is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(self, *args, username: str, name: str, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; its tokens would not work.")
        token, raw = ApiToken.issue(user, name=name)
        self.stdout.write(f"Token {token.prefix}… for {username} (use once, keep it secret): {raw}")
