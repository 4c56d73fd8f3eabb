"""Pages of the ipp app."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def troubleshoot(request):
    return render(request, "ipp/troubleshoot.html", {})
