# Debian packages (CPack DEB): yiwang-server (server, CLI, Sigma rules, unit, server.yml) and
# yiwang-agent (agent, SCA and audit rules, unit, agent.yml). Built by scripts/package.sh with
# CMAKE_INSTALL_PREFIX=/usr: the programs look for their rules under the prefix they were built
# with, so the packages install under that same prefix.
#
# Units and configuration files are EXCLUDE_FROM_ALL: only the packages (component installs)
# carry them, so a plain `cmake --install` never writes to /etc or /lib.
set(YW_UNIT_DIR /lib/systemd/system)
set(YW_ETC_DIR /etc/yiwang)

# The units name the programs by absolute path: written for /usr/bin, adjusted to the prefix.
foreach(prog server agent)
  file(READ ${CMAKE_SOURCE_DIR}/packaging/systemd/yiwang-${prog}.service unit)
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_FULL_BINDIR}/" unit "${unit}")
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/packaging/yiwang-${prog}.service
    CONTENT "${unit}" @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/yiwang-${prog}.service
    DESTINATION ${YW_UNIT_DIR} COMPONENT ${prog} EXCLUDE_FROM_ALL)
  install(FILES ${CMAKE_SOURCE_DIR}/packaging/etc/${prog}.yml
    DESTINATION ${YW_ETC_DIR} COMPONENT ${prog} EXCLUDE_FROM_ALL)
  install(FILES ${CMAKE_SOURCE_DIR}/docs/install.md ${CMAKE_SOURCE_DIR}/docs/configuration.md
    DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/yiwang-${prog} COMPONENT ${prog} EXCLUDE_FROM_ALL)
endforeach()
# The agent's reference is the agent document; the server's the API and CLI.
install(FILES ${CMAKE_SOURCE_DIR}/docs/agent.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/yiwang-agent
  COMPONENT agent EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_SOURCE_DIR}/docs/api.md ${CMAKE_SOURCE_DIR}/docs/cli.md
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/yiwang-server COMPONENT server EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME yiwang)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR yiwang)
set(CPACK_PACKAGE_CONTACT "yiwang maintainers <yiwang@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_COMPONENTS_ALL server agent)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://yiwang.invalid/")
# Library dependencies from dpkg-shlibdeps (package dpkg-dev); the lists below are added to them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME yiwang-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "init-system-helpers")
# First line: the synopsis; CPack indents the rest as the extended description.
set(CPACK_COMPONENT_SERVER_DESCRIPTION "yiwang security monitoring server
Receives events from yiwang agents over mutual TLS, decodes them, runs Sigma rules, stores
events and alerts in SQLite and serves the HTTP API and web console. Includes the yiwang
command line and the bundled Sigma rules.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/server/conffiles
  ${CMAKE_SOURCE_DIR}/packaging/debian/server/postinst
  ${CMAKE_SOURCE_DIR}/packaging/debian/server/prerm
  ${CMAKE_SOURCE_DIR}/packaging/debian/server/postrm)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME yiwang-agent)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION admin)
# nft runs the block_ip response action; auditctl the audit.check comparison.
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "init-system-helpers, nftables, auditd")
set(CPACK_COMPONENT_AGENT_DESCRIPTION "yiwang security monitoring agent
Follows log files and the journal, reports process executions, network connections, file
changes, inventory and baseline (SCA) results of this host to a yiwang server, and runs the
response actions the server asks for.")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/agent/conffiles
  ${CMAKE_SOURCE_DIR}/packaging/debian/agent/postinst
  ${CMAKE_SOURCE_DIR}/packaging/debian/agent/prerm
  ${CMAKE_SOURCE_DIR}/packaging/debian/agent/postrm)

include(CPack)
