# SPEC-018 §2.2, verbatim; the Background (not in the spec) names the test
# set-up: an established session between two nodes with real crypto over
# MockTransport, time on a ManualClock.
Feature: Session Maintenance

  Background:
    Given two nodes "alice" and "bob" on a MockTransport network with 20 ms latency and a ManualClock
    And an established session from "alice" to "bob"

  Scenario: Heartbeat success
    When 30 seconds pass without activity
    Then heartbeat is sent
    And peer responds within 2 seconds
    And TTL is extended

  Scenario: Single missed heartbeat
    Given peer misses 1 heartbeat
    When next heartbeat succeeds
    Then session remains "established"
    And warning is logged

  Scenario: Session suspension
    Given peer misses 3 heartbeats
    When third timeout occurs
    Then state becomes "suspended"
    And queued messages are held
    And recovery is attempted after 60s

  Scenario: Automatic key rotation
    Given session age reaches 24 hours
    When rotation window triggers
    Then new ephemeral keys are generated
    And re-handshake is initiated
    And no messages are lost
