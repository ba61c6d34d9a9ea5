# Relay mode of paperplane-relay: the authenticator, replay cache and decoy site alone (unit),
# and the whole relay on loopback with real TLS, curl and an upstream decoy (integration).
add_executable(pp_relaymode_unit_tests
    relaymode_auth_test.cpp
    relaymode_decoy_site_test.cpp
    relaymode_host_port_test.cpp
    relaymode_replay_cache_test.cpp
)
target_link_libraries(pp_relaymode_unit_tests PRIVATE pp_relay pp_wire pp_crypto Boost::headers
                      GTest::gtest GTest::gtest_main pp_warnings)
gtest_discover_tests(pp_relaymode_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

add_executable(pp_relaymode_tests relaymode_server_test.cpp)
target_link_libraries(pp_relaymode_tests PRIVATE pp_relay pp_net pp_wire pp_crypto Boost::headers
                      OpenSSL::SSL OpenSSL::Crypto GTest::gtest GTest::gtest_main pp_warnings)
gtest_discover_tests(pp_relaymode_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)
