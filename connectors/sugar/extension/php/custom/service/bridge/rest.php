<?php
/*
 * sugar-bridge server extension: REST entry point.
 *
 * Installed at <sugar>/custom/service/bridge/rest.php. It speaks the same form protocol as
 * service/v4_1/rest.php (method, input_type=JSON, response_type=JSON, rest_data) and serves every
 * stock v4_1 method plus the bridge_* methods of SugarWebServiceImplBridge.
 */
if (!defined('sugarEntry')) {
    define('sugarEntry', true);
}

// Sugar's bootstrap resolves every include from its root directory.
chdir(__DIR__ . '/../../..');

$webservice_class = 'SugarRestService';
$webservice_path = 'service/core/SugarRestService.php';
$webservice_impl_class = 'SugarWebServiceImplBridge';
$webservice_impl_class_path = 'custom/service/bridge/SugarWebServiceImplBridge.php';
$registry_class = 'registry_bridge';
$registry_path = 'custom/service/bridge/registry.php';
$location = '/custom/service/bridge/rest.php';

require_once 'service/core/webservice.php';
