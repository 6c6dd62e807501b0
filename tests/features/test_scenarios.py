"""The eleven scenarios of SPEC-018 §2, one test each, named as in the spec's §6.1
("Scenario-001.1: ..."): session_establishment.feature (001.x),
session_maintenance.feature (002.x), degradation_recovery.feature (003.x).
The steps are in conftest.py."""
from pytest_bdd import scenario

EST = "session_establishment.feature"
MAINT = "session_maintenance.feature"
DEGR = "degradation_recovery.feature"


@scenario(EST, "Successful establishment with new peer")
def test_scenario_001_1_successful_establishment_with_new_peer():
    """Scenario-001.1: Successful establishment with new peer"""


@scenario(EST, "Session resumption")
def test_scenario_001_2_session_resumption():
    """Scenario-001.2: Session resumption"""


@scenario(EST, "Establishment timeout")
def test_scenario_001_3_establishment_timeout():
    """Scenario-001.3: Establishment timeout"""


@scenario(EST, "Authentication failure")
def test_scenario_001_4_authentication_failure():
    """Scenario-001.4: Authentication failure"""


@scenario(MAINT, "Heartbeat success")
def test_scenario_002_1_heartbeat_success():
    """Scenario-002.1: Heartbeat success"""


@scenario(MAINT, "Single missed heartbeat")
def test_scenario_002_2_single_missed_heartbeat():
    """Scenario-002.2: Single missed heartbeat"""


@scenario(MAINT, "Session suspension")
def test_scenario_002_3_session_suspension():
    """Scenario-002.3: Session suspension"""


@scenario(MAINT, "Automatic key rotation")
def test_scenario_002_4_automatic_key_rotation():
    """Scenario-002.4: Automatic key rotation"""


@scenario(DEGR, "Network partition detection")
def test_scenario_003_1_network_partition_detection():
    """Scenario-003.1: Network partition detection"""


@scenario(DEGR, "Partition recovery")
def test_scenario_003_2_partition_recovery():
    """Scenario-003.2: Partition recovery"""


@scenario(DEGR, "Transport fallback")
def test_scenario_003_3_transport_fallback():
    """Scenario-003.3: Transport fallback"""
