"""The operator's write actions (SPEC §9): kill switch engage (one market or all), its reset,
resume from EMERGENCY. Each calls amm.runtime.operator (the same functions as the admin and
the commands), needs the admin's permission for it, a reason in the body, and is recorded
with actor `api:<username>` by the operator functions.

Idempotence: engaging a switch already ON answers 200 with `engaged: false` (its book is
cancelled again); an action illegal now (a reset of a switch that is OFF, a resume outside
EMERGENCY) answers 409 ACTION_REFUSED and changes nothing.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from amm.apis.base import AmmApi, HasPerm, Output, ReasonInput, errors
from amm.apis.instances import InstanceStateOutput
from amm.runtime import operator

ENGAGE_PERMISSION = "amm.engage_killswitch"
RESET_PERMISSION = "amm.reset_killswitch"
OPERATE_PERMISSION = "amm.operate_instance"


class KillResultOutput(Output):
    market_id = serializers.CharField()
    engaged = serializers.BooleanField(help_text="false: it was already ON (its orders were cancelled again)")
    cancelled = serializers.IntegerField(help_text="AMM orders cancelled on the platform")
    lease = serializers.CharField(help_text="how the market's cycle lease was taken: acquired | taken over")
    error = serializers.CharField(help_text="empty, or why the cancel failed (the next cycle cancels again)")


class KillOutput(Output):
    results = KillResultOutput(many=True)


class _Action(AmmApi):
    def reason(self) -> str:
        serializer = ReasonInput(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["reason"]


class KillSwitchEngageApi(_Action):
    """Engage one market's kill switch: every AMM order cancelled before the answer, no quoting."""

    permission_classes = [HasPerm(ENGAGE_PERMISSION)]

    @extend_schema(operation_id="amm_kill_switch_engage", request=ReasonInput,
                   responses={200: KillOutput, **errors(404)})
    def post(self, request, market_id: str):
        results = operator.kill(market_ids=[market_id], reason=self.reason(), actor=self.actor)
        return Response(KillOutput({"results": results}).data)


class KillSwitchEngageAllApi(_Action):
    """Engage the kill switch of every AMM instance."""

    permission_classes = [HasPerm(ENGAGE_PERMISSION)]

    @extend_schema(operation_id="amm_kill_switch_engage_all", request=ReasonInput,
                   responses={200: KillOutput, **errors()})
    def post(self, request):
        results = operator.kill(market_ids=None, reason=self.reason(), actor=self.actor)
        return Response(KillOutput({"results": results}).data)


class KillSwitchResetApi(_Action):
    """The operator's confirmed reset: switch OFF, defense NORMAL, an EMERGENCY the switch
    caused back to RUNNING. A switch already OFF: 409."""

    permission_classes = [HasPerm(RESET_PERMISSION)]

    @extend_schema(operation_id="amm_kill_switch_reset", request=ReasonInput,
                   responses={200: InstanceStateOutput, **errors(404, 409)})
    def post(self, request, market_id: str):
        instance = operator.reset_kill_switch(market_id=market_id, reason=self.reason(), actor=self.actor)
        return Response(InstanceStateOutput(instance).data)


class InstanceResumeApi(_Action):
    """EMERGENCY -> RUNNING once the market is ACTIVE (with the kill switch ON: reset it instead)."""

    permission_classes = [HasPerm(OPERATE_PERMISSION)]

    @extend_schema(operation_id="amm_instance_resume", request=ReasonInput,
                   responses={200: InstanceStateOutput, **errors(404, 409)})
    def post(self, request, market_id: str):
        instance = operator.resume(market_id=market_id, reason=self.reason(), actor=self.actor)
        return Response(InstanceStateOutput(instance).data)
