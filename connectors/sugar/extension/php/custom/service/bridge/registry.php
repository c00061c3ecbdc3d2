<?php
/*
 * sugar-bridge server extension: registry of the service methods (v4_1 + bridge_*).
 *
 * The REST server dispatches any public method of the implementation class; the registry
 * describes the methods for the SOAP-style documentation and keeps Sugar's custom-service
 * layout (rest.php, registry.php, implementation).
 */
if (!defined('sugarEntry') || !sugarEntry) {
    die('Not A Valid Entry Point');
}

require_once 'service/v4_1/registry.php';

#[\AllowDynamicProperties]
class registry_bridge extends registry_v4_1
{
    protected function registerFunction()
    {
        parent::registerFunction();

        $this->serviceClass->registerFunction(
            'bridge_info',
            array('session' => 'xsd:string'),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_ensure_custom_field',
            array(
                'session' => 'xsd:string',
                'module_name' => 'xsd:string',
                'field' => 'tns:name_value_list',
                'views' => 'tns:select_fields',
            ),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_get_custom_fields',
            array('session' => 'xsd:string', 'module_name' => 'xsd:string'),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_remove_custom_field',
            array('session' => 'xsd:string', 'module_name' => 'xsd:string', 'field_name' => 'xsd:string'),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_set_role_actions',
            array('session' => 'xsd:string', 'role_id' => 'xsd:string', 'rights' => 'tns:name_value_list'),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_save_records',
            array(
                'session' => 'xsd:string',
                'module_name' => 'xsd:string',
                'records' => 'tns:name_value_lists',
                'select_fields' => 'tns:select_fields',
            ),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_get_related_ids',
            array(
                'session' => 'xsd:string',
                'module_name' => 'xsd:string',
                'module_id' => 'xsd:string',
                'link_field_name' => 'xsd:string',
            ),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_read_changed',
            array(
                'session' => 'xsd:string',
                'module_name' => 'xsd:string',
                'since' => 'xsd:string',
                'after_id' => 'xsd:string',
                'max_results' => 'xsd:int',
                'select_fields' => 'tns:select_fields',
            ),
            array('return' => 'tns:name_value_list')
        );
        $this->serviceClass->registerFunction(
            'bridge_get_role_actions',
            array('session' => 'xsd:string', 'role_id' => 'xsd:string'),
            array('return' => 'tns:name_value_list')
        );
    }
}
