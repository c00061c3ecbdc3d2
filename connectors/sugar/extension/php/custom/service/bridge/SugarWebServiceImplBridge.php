<?php
/*
 * sugar-bridge server extension: what the stock v4_1 API cannot do.
 *
 * - bridge_info: extension/Sugar versions and modules, so the bridge can refuse to run against a
 *   missing or outdated extension;
 * - bridge_ensure_custom_field: create or update a custom field the way Studio does (dropdown list
 *   and label through the language extension mechanism, field saved through DynamicField, caches
 *   rebuilt, field placed on the detail/edit/list layouts through the Studio parsers); idempotent;
 * - bridge_get_custom_fields: a module's custom fields as stored, with what get_module_fields
 *   does not show (a decimal's precision);
 * - bridge_remove_custom_field: what Studio's Delete of a custom field does (off the layouts, label
 *   and dropdown list the bridge wrote removed, field deleted through DynamicField, caches
 *   rebuilt); idempotent; refuses a field that is not a custom field;
 * - bridge_set_role_actions / bridge_get_role_actions: a role's access levels, through
 *   ACLRole::setAction (stock set_relationship stores NULL in acl_roles_actions.access_override);
 * - bridge_save_records: a batch of creates/updates saved through the bean API like set_entries
 *   (ACL, logic hooks, audit, date_modified, custom fields), with AOD's per-save search indexing
 *   deferred to Sugar's own aodIndexUnindexed scheduler job, answering per record what was stored;
 * - bridge_get_related_ids: the ids of a record's live related records over a link, in one
 *   answer (what get_relationships lists, without a bean per related record);
 * - bridge_read_changed: a page of a module's records after a (date_modified, id) position,
 *   deleted ones included, with what get_entry_list answers for the same fields, from the list
 *   query alone (no bean per record).
 *
 * Every bridge_* method except bridge_save_records and bridge_read_changed needs an admin session
 * (bridge_save_records needs what set_entries needs: write access to the module, and each
 * record's Save ACL; bridge_read_changed what get_entry_list needs: read access and the 'list'
 * ACL, the rows limited as get_entry_list limits them). It changes no core file: everything it writes goes
 * under custom/ or into the database, exactly where Studio and the role editor write.
 * Runs on PHP 8.1-8.3 (and 7.4), SugarCRM CE 6.5 and SuiteCRM 7.
 */
if (!defined('sugarEntry') || !sugarEntry) {
    die('Not A Valid Entry Point');
}

require_once 'service/v4_1/SugarWebServiceImplv4_1.php';

#[\AllowDynamicProperties]
class SugarWebServiceImplBridge extends SugarWebServiceImplv4_1
{
    /** Version of this extension; the bridge compares it with the one it packages. */
    const EXTENSION_VERSION = '1.5.0';

    /** Bumped when a bridge_* method changes its parameters or answers incompatibly. */
    const API_LEVEL = 1;

    /** Contract type => Sugar (DynamicField widget) type. */
    const FIELD_TYPES = array(
        'varchar' => 'varchar',
        'int' => 'int',
        'decimal' => 'decimal',
        'currency' => 'currency',
        'date' => 'date',
        'datetime' => 'datetimecombo',
        'enum' => 'enum',
        'bool' => 'bool',
        'text' => 'text',
    );

    /** Default column length per Sugar type, for the types that have one (Studio's defaults). */
    const DEFAULT_LEN = array(
        'varchar' => 255,
        'int' => 11,
        'decimal' => 18,
        'currency' => 26,
        'enum' => 100,
    );

    const VIEWS = array('detailview', 'editview', 'listview');

    /** ACL levels a role action may take (ACL_ALLOW_* in modules/ACLActions/actiondefs.php). */
    const ACL_LEVELS = array(90, 89, 80, 75, 0, -98, -99);

    /** Records bridge_save_records takes in one call (keeps a request within PHP's time limit). */
    const MAX_SAVE_RECORDS = 500;

    /**
     * Modules bridge_save_records refuses: set_entries gives them semantics a plain bean save
     * does not have (Users: passwords and the admin flag; Contacts: the duplicate check and the
     * account made from account_name).
     */
    const SAVE_REFUSED_MODULES = array('Users', 'Employees', 'Contacts');

    const LANGUAGE = 'en_us';
    /** Studio's Dropdown Editor file, read directly on every request (not compiled). */
    const CUSTOM_LISTS = 'custom/include/language/en_us.lang.php';

    /** Errors of the bridge methods, added to Sugar's $error_defs on first use. */
    const ERRORS = array(
        'bridge_invalid_field' => array(
            'number' => 1001,
            'name' => 'Bridge: invalid field definition',
            'description' => 'The field definition is not valid',
        ),
        'bridge_no_role' => array(
            'number' => 1002,
            'name' => 'Bridge: no such role',
            'description' => 'No ACL role has this id',
        ),
        'bridge_invalid_rights' => array(
            'number' => 1003,
            'name' => 'Bridge: invalid rights',
            'description' => 'The rights are not an object of module => {action => ACL level}',
        ),
        'bridge_not_custom_field' => array(
            'number' => 1004,
            'name' => 'Bridge: not a custom field',
            'description' => 'Only a custom field (a name ending in _c, stored in fields_meta_data) can be removed',
        ),
        'bridge_invalid_records' => array(
            'number' => 1005,
            'name' => 'Bridge: invalid records',
            'description' => 'The records are not a list of at most 500 objects of field => value',
        ),
        'bridge_invalid_position' => array(
            'number' => 1008,
            'name' => 'Bridge: invalid position',
            'description' => 'since must be "" or Y-m-d H:i:s, after_id at most 36 characters, max_results 1 to 2000',
        ),
    );

    /** Per-record errors of bridge_save_records ({number, name, description} in its answer). */
    const RECORD_ERRORS = array(
        'not_found' => array(1006, 'Bridge: no such record', 'No record has this id (or it is deleted); nothing was saved'),
        'no_access' => array(40, 'Access Denied', 'You do not have access to save this record'),
        'save_failed' => array(1007, 'Bridge: save failed', 'The save raised an error'),
        'invalid_record' => array(1005, 'Bridge: invalid record', 'A record must be an object of field => value with a valid id'),
    );

    // ---------------------------------------------------------------------------------------
    // bridge_info
    // ---------------------------------------------------------------------------------------

    /**
     * Versions of this extension and of Sugar, PHP version, module keys.
     *
     * @param string $session -- Session ID returned by a previous call to login (admin).
     * @return array|null -- extension_version, api_level, flavor, sugar_version, suitecrm_version,
     *                       php_version, modules, security_groups
     */
    public function bridge_info($session)
    {
        if (!$this->bridgeAuthorize($session)) {
            return null;
        }
        global $sugar_flavor, $beanList;
        $sugar_version = '';
        $suitecrm_version = null;
        // Both files only assign variables; read them in this scope, like get_server_info does.
        include 'sugar_version.php';
        if (file_exists('suitecrm_version.php')) {
            include 'suitecrm_version.php';
        }
        $modules = array_keys(is_array($beanList) ? $beanList : array());
        sort($modules);

        return array(
            'extension_version' => self::EXTENSION_VERSION,
            'api_level' => self::API_LEVEL,
            'flavor' => (string) $sugar_flavor,
            'sugar_version' => (string) $sugar_version,
            'suitecrm_version' => empty($suitecrm_version) ? null : (string) $suitecrm_version,
            'php_version' => PHP_VERSION,
            'modules' => $modules,
            'security_groups' => in_array('SecurityGroups', $modules, true),
            // Whether saves are indexed by AOD's Lucene search (its after-save hook); the bridge
            // picks its write path and session count from it.
            'aod_enabled' => $this->bridgeAodEnabled(),
            'save_records_max' => self::MAX_SAVE_RECORDS,
        );
    }

    /** $sugar_config['aod']['enable_aod'], what AOD_Index::isEnabled() reads. */
    private function bridgeAodEnabled()
    {
        global $sugar_config;
        return !empty($sugar_config['aod']['enable_aod']);
    }

    // ---------------------------------------------------------------------------------------
    // bridge_ensure_custom_field
    // ---------------------------------------------------------------------------------------

    /**
     * Create or update a custom field the way Studio does, and place it on layouts.
     *
     * @param string $session -- Session ID returned by a previous call to login (admin).
     * @param string $module_name -- Module key, e.g. Accounts (case-sensitive).
     * @param array $field -- {name, type, label, len, precision, options, default, required, help}
     * @param array $views -- subset of detailview, editview, listview
     * @return array|null -- {name, created, changed, changes, views_added}; changes names the
     *                       attributes of an existing field that differed (len, precision,
     *                       default, required, help, options, label), [] for a new field
     */
    public function bridge_ensure_custom_field($session, $module_name, $field, $views = array())
    {
        if (!$this->bridgeAuthorize($session, $module_name)) {
            return null;
        }
        $def = $this->bridgeValidateField($module_name, $field, $views);
        if ($def === null) {
            return null;
        }
        $name = $def['name'];
        $sugarType = self::FIELD_TYPES[$def['type']];
        $existing = $this->bridgeFieldRow($module_name, $name);

        $labelKey = ($existing !== null && !empty($existing['vname']))
            ? $existing['vname'] : 'LBL_' . strtoupper(substr($name, 0, -2));
        $listName = null;
        if ($sugarType === 'enum') {
            // Keep the list an existing field already points at (e.g. one made in Studio).
            $listName = ($existing !== null && !empty($existing['ext1'])
                && preg_match('/^[A-Za-z0-9_]{1,100}$/', $existing['ext1']))
                ? $existing['ext1'] : strtolower($module_name) . '_' . substr($name, 0, -2) . '_list';
        }

        $changes = array();
        $created = $existing === null;
        if (!$created) {
            if ($existing['type'] !== $sugarType) {
                // Studio cannot change a field's type either: the column's data would not survive.
                $this->bridgeError(
                    'bridge_invalid_field',
                    "field $name exists with type {$existing['type']}; its type cannot be changed"
                );
                return null;
            }
            $changes = $this->bridgeFieldChanges($existing, $def, $sugarType, $listName);
        }

        // Dropdown list and label first: the field's vardef points at both.
        $touchedLanguage = false;
        if ($listName !== null && $this->bridgeWriteDropdown($listName, $def['options'])) {
            $changes[] = 'options';
            $touchedLanguage = true;
        }
        if ($this->bridgeWriteLabel($module_name, $labelKey, $def['label'])) {
            $changes[] = 'label';
            $touchedLanguage = true;
        }

        $saveField = $created || count(array_diff($changes, array('options', 'label'))) > 0
            || ($listName !== null && $existing !== null && $existing['ext1'] !== $listName);
        if ($saveField) {
            $this->bridgeSaveField($module_name, $def, $sugarType, $labelKey, $listName, $existing);
        }
        if ($saveField || $touchedLanguage) {
            $this->bridgeRebuild($module_name, $listName !== null && in_array('options', $changes, true));
        }

        $viewsAdded = array();
        foreach ($def['views'] as $view) {
            if ($this->bridgeEnsureOnLayout($module_name, $name, $view)) {
                $viewsAdded[] = $view;
            }
        }

        // changed: this call wrote the field, its label or its list (always so when created);
        // changes: which attributes of an existing field differed (none for a new field).
        $changes = $created ? array() : array_values(array_unique($changes));
        return array(
            'name' => $name,
            'created' => $created,
            'changed' => $created || count($changes) > 0,
            'changes' => $changes,
            'views_added' => $viewsAdded,
        );
    }

    /**
     * Check and normalise the field definition; sets error 1001 and returns null when invalid.
     *
     * @return array|null -- name (with _c), type, label, len, precision, options, default,
     *                       required, help, views
     */
    private function bridgeValidateField($module_name, $field, $views)
    {
        $fail = function ($why) {
            $this->bridgeError('bridge_invalid_field', $why);
            return null;
        };
        if (!is_array($field)) {
            return $fail('field must be an object');
        }
        $name = isset($field['name']) ? $field['name'] : null;
        // Custom fields end in _c (DynamicField::getDBName); requiring it keeps a core field name
        // such as "name" from silently becoming "name_c".
        if (!is_string($name) || !preg_match('/^[a-z][a-z0-9_]{0,55}_c$/', $name)) {
            return $fail('name must match [a-z][a-z0-9_]*_c, at most 58 characters');
        }
        $type = isset($field['type']) ? $field['type'] : null;
        if (!is_string($type) || !isset(self::FIELD_TYPES[$type])) {
            return $fail('type must be one of ' . implode(', ', array_keys(self::FIELD_TYPES)));
        }
        $sugarType = self::FIELD_TYPES[$type];
        $label = isset($field['label']) ? $field['label'] : null;
        if (!is_string($label) || trim($label) === '' || strlen($label) > 255) {
            return $fail('label must be a non-empty string of at most 255 characters');
        }

        $bean = BeanFactory::newBean($module_name);
        if (empty($bean) || empty($bean->table_name)) {
            return $fail("module $module_name has no table for custom fields");
        }
        $existingDef = isset($bean->field_defs[$name]) ? $bean->field_defs[$name] : null;
        if ($existingDef !== null && (!isset($existingDef['source']) || $existingDef['source'] !== 'custom_fields')) {
            return $fail("$name is a field of $module_name that is not a custom field");
        }

        $len = null;
        if (isset(self::DEFAULT_LEN[$sugarType])) {
            $len = self::DEFAULT_LEN[$sugarType];
            if (isset($field['len'])) {
                if (!is_int($field['len']) || $field['len'] < 1 || $field['len'] > 255) {
                    return $fail('len must be an integer from 1 to 255');
                }
                $len = $field['len'];
            }
        }
        $precision = null;
        if ($sugarType === 'decimal') {
            $precision = 2;
            if (isset($field['precision'])) {
                if (!is_int($field['precision']) || $field['precision'] < 0 || $field['precision'] > 8
                    || $field['precision'] >= $len) {
                    return $fail('precision must be an integer from 0 to 8, below len');
                }
                $precision = $field['precision'];
            }
        } elseif (isset($field['precision']) && !is_int($field['precision'])) {
            return $fail('precision must be an integer');
        }

        $options = null;
        if ($sugarType === 'enum') {
            if (!isset($field['options']) || !is_array($field['options']) || count($field['options']) === 0) {
                return $fail('an enum field needs options {key: label}');
            }
            $options = array();
            foreach ($field['options'] as $key => $value) {
                if (!is_scalar($value) || strlen((string) $key) > 100) {
                    return $fail('options must map keys (at most 100 characters) to labels');
                }
                // ParserDropDown::saveDropDown strips markup from keys and labels the same way.
                $cleanKey = SugarCleaner::stripTags(from_html((string) $key), false);
                if ($cleanKey !== (string) $key) {
                    return $fail('option keys must be plain text');
                }
                $options[$cleanKey] = SugarCleaner::stripTags(from_html((string) $value), false);
            }
        } elseif (isset($field['options']) && $field['options'] !== array()) {
            return $fail('options are only for enum fields');
        }

        $default = isset($field['default']) ? $field['default'] : null;
        if ($default !== null && !is_scalar($default)) {
            return $fail('default must be a string, number, boolean or null');
        }
        if (is_bool($default)) {
            $default = $default ? '1' : '0';
        }
        $default = $default === null ? '' : (string) $default;
        if ($sugarType === 'enum' && $default !== '' && !array_key_exists($default, $options)) {
            return $fail('default must be one of the options');
        }
        if ($sugarType === 'bool' && $default === '') {
            $default = '0';
        }

        $required = isset($field['required']) ? $field['required'] : false;
        if (!is_bool($required) && $required !== 0 && $required !== 1) {
            return $fail('required must be a boolean');
        }
        $help = isset($field['help']) ? $field['help'] : '';
        if (!is_string($help) || strlen($help) > 255) {
            return $fail('help must be a string of at most 255 characters');
        }
        // What TemplateField::populateFromPost does with Studio's help text.
        $help = htmlspecialchars((string) remove_xss(htmlspecialchars_decode($help, ENT_QUOTES)));

        if ($views === null) {
            $views = array();
        }
        if (!is_array($views)) {
            return $fail('views must be a list');
        }
        $cleanViews = array();
        foreach ($views as $view) {
            if (!is_string($view) || !in_array($view, self::VIEWS, true)) {
                return $fail('views must be a subset of ' . implode(', ', self::VIEWS));
            }
            if (!in_array($view, $cleanViews, true)) {
                $cleanViews[] = $view;
            }
        }

        return array(
            'name' => $name,
            'type' => $type,
            'label' => $label,
            'len' => $len,
            'precision' => $precision,
            'options' => $options,
            'default' => $default,
            'required' => (bool) $required,
            'help' => $help,
            'views' => $cleanViews,
        );
    }

    /** The field's fields_meta_data row (raw values), or null when it does not exist. */
    private function bridgeFieldRow($module_name, $name)
    {
        $db = DBManagerFactory::getInstance();
        $result = $db->query(
            'SELECT * FROM fields_meta_data WHERE id = ' . $db->quoted($module_name . $name)
            . ' AND deleted = 0'
        );
        $row = $db->fetchByAssoc($result, false);
        return empty($row) ? null : $row;
    }

    /** Which stored attributes differ from the definition (the names the contract uses). */
    private function bridgeFieldChanges($row, $def, $sugarType, $listName)
    {
        $changes = array();
        if ($def['len'] !== null && (string) $row['len'] !== (string) $def['len']) {
            $changes[] = 'len';
        }
        if ($sugarType === 'decimal' && (string) $row['ext1'] !== (string) $def['precision']) {
            $changes[] = 'precision';
        }
        if ($this->bridgeText($row['default_value']) !== $this->bridgeText($def['default'])) {
            $changes[] = 'default';
        }
        if ((bool) $row['required'] !== $def['required']) {
            $changes[] = 'required';
        }
        if ($this->bridgeText($row['help']) !== $this->bridgeText($def['help'])) {
            $changes[] = 'help';
        }
        if ($listName !== null && (string) $row['ext1'] !== $listName) {
            $changes[] = 'options';
        }
        return $changes;
    }

    /** Compare text as a person reads it: Sugar stores some values HTML-encoded. */
    private function bridgeText($value)
    {
        return html_entity_decode((string) $value, ENT_QUOTES, 'UTF-8');
    }

    /**
     * Write the dropdown list where Sugar reads it on every request whatever else happens, and
     * keep the bridge's own record of it; true when either changed.
     *
     * - custom/include/language/<lang>.lang.php, the file Studio's Dropdown Editor saves to,
     *   which return_app_list_strings_language includes directly: our list is a block of its
     *   own between two marker lines, reset with `= array();` then one key per statement, so
     *   that Studio's own clean-up regexes (`= array([^)]*);`) can never cut through a label
     *   holding a parenthesis.
     * - custom/Extension/application/Ext/Language/<lang>.bridge_<list>.php (what a Module
     *   Loader package's language section writes, and where 1.0 kept the list): it marks the
     *   list as the bridge's, for bridge_remove_custom_field.
     *
     * Why not the language extension alone: on SuiteCRM 7.15.0 every save of a Meeting (its
     * calendar-sync logic hook) and Sugar's calendar-sync job construct CalendarProviderRegistry,
     * which calls write_override_label_to_file(..., 'a') on the compiled
     * custom/application/Ext/Language/<lang>.lang.ext.php; that function ignores its mode and
     * overwrites the file with the calendar source types alone, so every extension dropdown
     * list vanishes from Sugar's screens until the next rebuild. Lists in custom/include are not
     * compiled and survive it.
     */
    private function bridgeWriteDropdown($listName, $options)
    {
        $changed = false;
        $dir = 'custom/Extension/application/Ext/Language';
        $file = $dir . '/' . self::LANGUAGE . '.bridge_' . $listName . '.php';
        if ($this->bridgeListIn($file, $listName) !== $options) {
            if (!is_dir($dir)) {
                mkdir_recursive($dir);
            }
            $out = "<?php\n// Written by the sugar-bridge extension (bridge_ensure_custom_field).\n"
                . '$app_list_strings[' . var_export($listName, true) . '] = '
                . var_export($options, true) . ";\n";
            sugar_file_put_contents_atomic($file, $out);
            $changed = true;
        }
        if ($this->bridgeListIn(self::CUSTOM_LISTS, $listName) !== $options) {
            $this->bridgeSaveCustomList($listName, $options);
            $changed = true;
        }
        return $changed;
    }

    /**
     * Replace (or, with null, remove) the bridge's block for $listName in custom/include/
     * language/<lang>.lang.php, leaving every other line of the file as it was.
     */
    private function bridgeSaveCustomList($listName, $options)
    {
        $begin = '// sugar-bridge list ' . $listName . ' (bridge_ensure_custom_field)';
        $end = '// sugar-bridge end of ' . $listName;
        $contents = file_exists(self::CUSTOM_LISTS) ? (string) file_get_contents(self::CUSTOM_LISTS) : '';
        $contents = rtrim(str_replace('?>', '', $contents));
        if ($contents === '') {
            $contents = '<?php';
        }
        $from = strpos($contents, "\n" . $begin . "\n");
        if ($from !== false) {
            $to = strpos($contents, "\n" . $end, $from);
            $contents = substr($contents, 0, $from)
                . ($to === false ? '' : substr($contents, $to + strlen("\n" . $end)));
        }
        if ($options !== null) {
            $contents .= "\n" . $begin . "\n" . '$app_list_strings[' . var_export($listName, true)
                . "] = array();\n";
            foreach ($options as $key => $label) {
                $contents .= '$app_list_strings[' . var_export($listName, true) . ']['
                    . var_export((string) $key, true) . '] = ' . var_export((string) $label, true)
                    . ";\n";
            }
            $contents .= $end;
        }
        if (!is_dir(dirname(self::CUSTOM_LISTS))) {
            mkdir_recursive(dirname(self::CUSTOM_LISTS));
        }
        sugar_file_put_contents_atomic(self::CUSTOM_LISTS, $contents . "\n");
        sugar_cache_reset();
    }

    /** The dropdown list $listName as a language file defines it (null when it does not). */
    private function bridgeListIn($file, $listName)
    {
        $app_list_strings = array();
        if (file_exists($file)) {
            include $file;
        }
        return isset($app_list_strings[$listName]) ? $app_list_strings[$listName] : null;
    }

    /**
     * Write the field label with ParserLabel::addLabels (Studio's way: custom/Extension/modules/
     * <module>/Ext/Language/_override_<lang>.lang.php) for en_us and the default language (the
     * one Sugar falls back to for module strings); true when a label changed.
     */
    private function bridgeWriteLabel($module_name, $labelKey, $label)
    {
        global $sugar_config;
        require_once 'modules/ModuleBuilder/parsers/parser.label.php';
        $languages = array(self::LANGUAGE);
        if (!empty($sugar_config['default_language']) && is_string($sugar_config['default_language'])
            && preg_match('/^[A-Za-z_]{2,10}$/', $sugar_config['default_language'])) {
            $languages[] = $sugar_config['default_language'];
        }
        // addLabels stores the value in this encoding; compare in the same one.
        $stored = to_html(strip_tags(from_html($label)));
        $changed = false;
        foreach (array_unique($languages) as $language) {
            $file = 'custom/Extension/modules/' . $module_name . '/Ext/Language/_override_'
                . $language . '.lang.php';
            $mod_strings = array();
            if (file_exists($file)) {
                include $file;
            }
            if (isset($mod_strings[$labelKey]) && $mod_strings[$labelKey] === $stored) {
                continue;
            }
            ParserLabel::addLabels($language, array($labelKey => $label), $module_name);
            $changed = true;
        }
        return $changed;
    }

    /**
     * Save the field through its TemplateField subclass and DynamicField: fields_meta_data row,
     * <table>_cstm column (ALTER TABLE), vardef cache. Attributes the bridge does not manage
     * (audited, mass update, ...) keep what an admin set in Studio.
     */
    private function bridgeSaveField($module_name, $def, $sugarType, $labelKey, $listName, $existing)
    {
        global $beanList, $beanFiles;
        require_once 'modules/DynamicFields/FieldCases.php';
        require_once 'modules/DynamicFields/DynamicField.php';

        $values = array(
            'name' => $def['name'],
            'label' => $labelKey,
            'type' => $sugarType,
            'required' => $def['required'],
            'default' => $def['default'],
            'default_value' => $def['default'],
            'help' => $def['help'],
            'audited' => 0,
            'massupdate' => 0,
            'importable' => 'true',
            'duplicate_merge' => 0,
            'reportable' => true,
            'inline_edit' => 1,
        );
        if ($existing !== null) {
            foreach (array('audited', 'massupdate', 'importable', 'duplicate_merge', 'reportable',
                'inline_edit', 'comments', 'ext2', 'ext3', 'ext4') as $kept) {
                if (array_key_exists($kept, $existing) && $existing[$kept] !== null) {
                    $values[$kept] = $existing[$kept];
                }
            }
        }
        if ($def['len'] !== null) {
            $values['len'] = $def['len'];
        }
        if ($sugarType === 'decimal') {
            $values['precision'] = $def['precision'];
        }
        if ($listName !== null) {
            $values['options'] = $listName;
        }

        $widget = get_widget($sugarType);
        // TemplateField::populateFromPost without the request: each vardef_map key sets the
        // property and its fields_meta_data twin (label -> vname, options -> ext1, ...).
        foreach ($widget->vardef_map as $vardef => $column) {
            if (array_key_exists($vardef, $values)) {
                $widget->$vardef = $values[$vardef];
                if ($vardef !== $column) {
                    $widget->$column = $values[$vardef];
                }
            }
        }
        $widget->label_value = $def['label'];

        $className = $beanList[$module_name];
        require_once $beanFiles[$className];
        $df = new DynamicField($module_name);
        $df->setup(new $className());
        $widget->save($df);
    }

    /**
     * What Studio runs after saving a field: rebuild the extensions (labels, dropdowns, vardef
     * overrides), clear the module's vardef, template and language caches, and the JS caches.
     */
    private function bridgeRebuild($module_name, $dropdownChanged)
    {
        global $beanList, $mod_strings;
        require_once 'ModuleInstall/ModuleInstaller.php';
        require_once 'modules/Administration/QuickRepairAndRebuild.php';

        if (!is_array($mod_strings)) {
            $mod_strings = array();
        }
        $mod_strings['LBL_ALL_MODULES'] = 'all_modules';
        $className = $beanList[$module_name];

        $installer = new ModuleInstaller();
        $installer->silent = true;
        $installer->rebuild_extensions();

        $repair = new RepairAndClear();
        $repair->repairAndClearAll(
            array('rebuildExtensions', 'clearVardefs', 'clearTpls'),
            array($className),
            true,
            false
        );
        if ($module_name === 'Users') {
            $repair->repairAndClearAll(
                array('rebuildExtensions', 'clearVardefs', 'clearTpls'),
                array('Employee'),
                true,
                false
            );
        }
        $repair->module_list = array();
        $repair->clearJsFiles();
        if ($dropdownChanged) {
            sugar_cache_reset();
            clearAllJsAndJsLangFilesWithoutOutput();
        }
        VardefManager::clearVardef($module_name, $className);
        // Fresh vardefs for the layout parsers that run next in this same request.
        VardefManager::loadVardef($module_name, $className, true);
    }

    /**
     * Put the field on a layout through the Studio parsers (written to
     * custom/modules/<module>/metadata/<view>defs.php); true when it was added.
     */
    private function bridgeEnsureOnLayout($module_name, $name, $view)
    {
        require_once 'modules/ModuleBuilder/parsers/ParserFactory.php';
        require_once 'modules/ModuleBuilder/parsers/constants.php';

        if ($view === 'listview') {
            $parser = ParserFactory::getParser(MB_LISTVIEW, $module_name);
            $key = strtolower($name);
            if (isset($parser->_viewdefs[$key]) && !empty($parser->_viewdefs[$key]['default'])) {
                return false;
            }
            if (!isset($parser->_fielddefs[$key])) {
                $GLOBALS['log']->error("sugar-bridge: $module_name.$name not in list view fielddefs");
                return false;
            }
            $column = isset($parser->_viewdefs[$key])
                ? $parser->_viewdefs[$key]
                : ListLayoutMetaDataParser::createViewDefsByFieldDefs($parser->_fielddefs[$key], get_class($parser));
            $column['default'] = true;
            if (isset($column['enabled'])) {
                $column['enabled'] = true;
            }
            if (empty($column['width'])) {
                $column['width'] = '10%';
            }
            $parser->_viewdefs[$key] = $column;
            $parser->handleSave(false);
            return true;
        }

        $parser = ParserFactory::getParser($view === 'detailview' ? MB_DETAILVIEW : MB_EDITVIEW, $module_name);
        foreach ($parser->getLayout() as $panel) {
            foreach ($panel as $row) {
                foreach ($row as $cell) {
                    $cellName = is_array($cell) ? (isset($cell['name']) ? $cell['name'] : null) : $cell;
                    if ($cellName === $name) {
                        return false;
                    }
                }
            }
        }
        $parser->addField(array('name' => $name));
        $parser->handleSave(false);
        return true;
    }

    // ---------------------------------------------------------------------------------------
    // bridge_get_custom_fields
    // ---------------------------------------------------------------------------------------

    /**
     * The custom fields of a module as stored in fields_meta_data, with the attributes the stock
     * get_module_fields leaves out (since 1.2.0).
     *
     * @param string $session -- Session ID returned by a previous call to login (admin).
     * @param string $module_name -- Module key, e.g. Accounts (case-sensitive).
     * @return array|null -- {field name: {name, type, len, precision, required}}; precision is
     *                       a decimal's (TemplateFloat keeps it in ext1), 6 for currency
     *                       (TemplateCurrency's fixed column scale), null for other types
     */
    public function bridge_get_custom_fields($session, $module_name)
    {
        if (!$this->bridgeAuthorize($session, $module_name)) {
            return null;
        }
        $db = DBManagerFactory::getInstance();
        $result = $db->query(
            'SELECT name, type, len, ext1, required FROM fields_meta_data WHERE custom_module = '
            . $db->quoted($module_name) . ' AND deleted = 0 ORDER BY name'
        );
        $out = array();
        while ($row = $db->fetchByAssoc($result, false)) {
            $type = (string) $row['type'];
            $precision = null;
            if ($type === 'decimal' || $type === 'float') {
                $precision = ($row['ext1'] === null || $row['ext1'] === '') ? null : (int) $row['ext1'];
            } elseif ($type === 'currency') {
                $precision = 6;
            }
            $out[(string) $row['name']] = array(
                'name' => (string) $row['name'],
                'type' => $type,
                'len' => ($row['len'] === null || $row['len'] === '') ? null : (int) $row['len'],
                'precision' => $precision,
                'required' => !empty($row['required']),
            );
        }
        // PHP's json_encode gives [] for a module without custom fields.
        return $out;
    }

    // ---------------------------------------------------------------------------------------
    // bridge_remove_custom_field
    // ---------------------------------------------------------------------------------------

    /**
     * Remove a custom field the way Studio's Delete does (ModuleBuilderController::
     * action_DeleteField): off every layout through the Studio parsers, label and dropdown list
     * the bridge wrote removed, field deleted through TemplateField::delete / DynamicField
     * (fields_meta_data row, <table>_cstm column, vardef cache), extensions rebuilt and caches
     * cleared. A field that does not exist (any more) answers removed: false and changes nothing.
     *
     * @param string $session -- Session ID returned by a previous call to login (admin).
     * @param string $module_name -- Module key, e.g. Accounts (case-sensitive).
     * @param string $field_name -- the custom field's name, e.g. score_c
     * @return array|null -- {name, removed, label_removed, list_removed}
     */
    public function bridge_remove_custom_field($session, $module_name, $field_name)
    {
        if (!$this->bridgeAuthorize($session, $module_name)) {
            return null;
        }
        // Same shape as the names DynamicField creates; also keeps the name safe in the SQL that
        // DynamicField::getFieldWidget builds without quoting.
        if (!is_string($field_name) || !preg_match('/^[A-Za-z][A-Za-z0-9_]{0,61}_c$/', $field_name)) {
            $this->bridgeError('bridge_not_custom_field', 'field_name must be a custom field name ending in _c');
            return null;
        }
        $bean = BeanFactory::newBean($module_name);
        if (empty($bean) || empty($bean->table_name)) {
            $this->bridgeError('bridge_not_custom_field', "module $module_name has no custom fields");
            return null;
        }
        $vardef = isset($bean->field_defs[$field_name]) ? $bean->field_defs[$field_name] : null;
        if ($vardef !== null && (!isset($vardef['source']) || $vardef['source'] !== 'custom_fields')) {
            // A stock field (or one a module ships): Studio offers no Delete for those either.
            $this->bridgeError(
                'bridge_not_custom_field',
                "$field_name is a field of $module_name that is not a custom field"
            );
            return null;
        }
        $row = $this->bridgeFieldRow($module_name, $field_name);
        if ($row === null) {
            return $this->bridgeRemoveLeftovers($module_name, $bean, $field_name, $vardef === null);
        }

        // Layouts, label and list before the field: if the request dies half-way, the
        // fields_meta_data row is still there and a retry finishes the job.
        $this->bridgeRemoveFromLayouts($module_name, $field_name);
        $labelRemoved = !empty($row['vname'])
            && $this->bridgeRemoveLabel($module_name, $field_name, (string) $row['vname']);
        $listRemoved = in_array($row['type'], array('enum', 'multienum', 'radioenum'), true)
            && !empty($row['ext1'])
            && $this->bridgeRemoveDropdown($module_name, $field_name, (string) $row['ext1']);

        global $beanList, $beanFiles;
        require_once 'modules/DynamicFields/FieldCases.php';
        require_once 'modules/DynamicFields/DynamicField.php';
        $className = $beanList[$module_name];
        require_once $beanFiles[$className];
        $df = new DynamicField($module_name);
        $df->setup(new $className());
        $widget = $df->getFieldWidget($module_name, $field_name);
        if ($widget !== null) {
            $this->bridgeRebuildTable($bean->table_name . '_cstm');
            $widget->delete($df);
            $this->bridgeRebuildTable($bean->table_name . '_cstm');
        }
        $this->bridgeRemoveVardefOverride($module_name, $field_name);
        if ($row['type'] === 'currency' && $this->bridgeFieldRow($module_name, 'currency_id') === null) {
            // TemplateCurrency::delete deletes the module's currency_id field with it, and
            // leaves its fragment behind as for any field.
            $this->bridgeRemoveVardefOverride($module_name, 'currency_id');
        }
        $this->bridgeRebuild($module_name, $listRemoved);

        return array(
            'name' => $field_name,
            'removed' => true,
            'label_removed' => $labelRemoved,
            'list_removed' => $listRemoved,
        );
    }

    /**
     * StudioModule::removeFieldFromLayouts: every view of the module (detail, edit, list,
     * quick create, search, popup, dashlet) and the subpanels of the modules that show it; only
     * the layouts that contained the field are saved.
     */
    private function bridgeRemoveFromLayouts($module_name, $name)
    {
        require_once 'modules/ModuleBuilder/Module/StudioModuleFactory.php';
        require_once 'modules/ModuleBuilder/parsers/constants.php';
        $this->bridgeRemoveFromGrids($module_name, $name);
        $module = StudioModuleFactory::getStudioModule($module_name);
        $module->removeFieldFromLayouts($name);
    }

    /**
     * Detail, edit and quick-create layouts: the field's cells become (filler), as in
     * GridLayoutMetaDataParser::removeField, and then every row of the panels it sat in that holds
     * nothing but (empty)/(filler) goes. Studio only trims the panel's last row, so fields added
     * with addField (two per new row) and removed in another order leave blank rows behind that
     * pile up on the layout; a blank spacer row an admin put in those panels goes too.
     */
    private function bridgeRemoveFromGrids($module_name, $name)
    {
        require_once 'modules/ModuleBuilder/parsers/ParserFactory.php';
        $blank = array('', MBConstants::$EMPTY['name'], MBConstants::$FILLER['name']);
        foreach (array(MB_DETAILVIEW, MB_EDITVIEW, MB_QUICKCREATE) as $view) {
            try {
                $parser = ParserFactory::getParser($view, $module_name);
            } catch (Exception $e) {
                continue;
            }
            if (empty($parser->_viewdefs['panels']) || !is_array($parser->_viewdefs['panels'])) {
                continue;
            }
            $panelIDs = array_keys($parser->_viewdefs['panels']);
            $changed = false;
            foreach ($parser->_viewdefs['panels'] as $panelID => $rows) {
                $touched = false;
                foreach ($rows as $rowID => $row) {
                    foreach ((array) $row as $colID => $cell) {
                        $cellName = is_array($cell) ? (isset($cell['name']) ? $cell['name'] : null) : $cell;
                        if ($cellName === $name) {
                            $rows[$rowID][$colID] = MBConstants::$FILLER['name'];
                            $touched = true;
                        }
                    }
                }
                if (!$touched) {
                    continue;
                }
                $kept = array();
                foreach ($rows as $row) {
                    $isBlank = true;
                    foreach ((array) $row as $cell) {
                        $cellName = is_array($cell) ? (isset($cell['name']) ? $cell['name'] : '') : $cell;
                        $isBlank = $isBlank && in_array((string) $cellName, $blank, true);
                    }
                    if (!$isBlank) {
                        $kept[] = $row;
                    }
                }
                if (count($kept) === 0 && $panelID !== $panelIDs[0]) {
                    unset($parser->_viewdefs['panels'][$panelID]);
                } else {
                    $parser->_viewdefs['panels'][$panelID] = count($kept) > 0
                        ? $kept : array(array(MBConstants::$EMPTY['name'], MBConstants::$EMPTY['name']));
                }
                $changed = true;
            }
            if ($changed) {
                $parser->handleSave(false);
            }
        }
    }

    /**
     * A field without a fields_meta_data row: nothing to remove, except what a create or delete
     * that died half-way leaves behind under the bridge's own names: the label LBL_<NAME> and the
     * list <module>_<name>_list bridge_ensure_custom_field writes before saving the field (unless
     * a custom field uses them), the vardef fragment, and a <table>_cstm column no field
     * describes (a DROP COLUMN that failed). Answers removed: false.
     */
    private function bridgeRemoveLeftovers($module_name, $bean, $field_name, $unknown)
    {
        $labelRemoved = false;
        $listRemoved = false;
        if ($unknown) {
            $stem = substr($field_name, 0, -2);
            $labelKey = 'LBL_' . strtoupper($stem);
            $labelUsed = false;
            foreach ($bean->field_defs as $def) {
                // e.g. LBL_NAME for "name_c": a stock field's label, maybe renamed in Studio.
                $labelUsed = $labelUsed || (isset($def['vname']) && $def['vname'] === $labelKey);
            }
            $labelRemoved = !$labelUsed
                && $this->bridgeRemoveLabel($module_name, $field_name, $labelKey);
            $listRemoved = $this->bridgeRemoveDropdown(
                $module_name,
                $field_name,
                strtolower($module_name) . '_' . $stem . '_list'
            );
            $fragment = $this->bridgeRemoveVardefOverride($module_name, $field_name);
            $table = $bean->table_name . '_cstm';
            $db = DBManagerFactory::getInstance();
            $column = $db->tableExists($table) ? $db->get_columns($table) : array();
            if (isset($column[$field_name]) || isset($column[strtolower($field_name)])) {
                require_once 'modules/DynamicFields/templates/Fields/TemplateField.php';
                $widget = new TemplateField();
                $widget->name = $field_name;
                $this->bridgeRebuildTable($table);
                $db->query($widget->get_db_delete_alter_table($table));
                $this->bridgeRebuildTable($table);
            }
            if ($labelRemoved || $listRemoved || $fragment) {
                $this->bridgeRebuild($module_name, $listRemoved);
            }
        }
        return array(
            'name' => $field_name,
            'removed' => false,
            'label_removed' => $labelRemoved,
            'list_removed' => $listRemoved,
        );
    }

    /**
     * Rebuild a custom table on MySQL/MariaDB (ALTER TABLE ... FORCE). MariaDB drops a column
     * instantly and keeps it hidden in the table's metadata until the table is rebuilt; after a
     * few dozen add/drop cycles every ALTER of the table, DROP COLUMN included, fails with error
     * 1118 "Row size too large". Studio's Delete has the same problem; a rebuild before and after
     * the drop keeps the table clean. Costs a copy of the table (<table>_cstm only).
     */
    private function bridgeRebuildTable($table)
    {
        $db = DBManagerFactory::getInstance();
        if ($db->dbType === 'mysql' && preg_match('/^[A-Za-z0-9_]+$/', $table) && $db->tableExists($table)) {
            $db->query('ALTER TABLE ' . $table . ' FORCE');
        }
    }

    /**
     * Delete custom/Extension/modules/<module>/Ext/Vardefs/_override_sugarfield_<field>.php,
     * the vardef fragment DynamicField::saveExtendedAttributes writes when a field is saved.
     * DynamicField::deleteField only looks for sugarfield_<field>.php, so after Studio's Delete
     * the fragment stays and keeps a type-less entry of the field in the module's vardefs; true
     * when a file was deleted.
     */
    private function bridgeRemoveVardefOverride($module_name, $name)
    {
        $file = 'custom/Extension/modules/' . $module_name . '/Ext/Vardefs/_override_sugarfield_'
            . $name . '.php';
        return is_file($file) && unlink($file);
    }

    /**
     * Remove the field's label from the override files bridgeWriteLabel writes to (en_us and
     * the default language), unless another custom field of the module uses the same label
     * key; true when a label was removed.
     */
    private function bridgeRemoveLabel($module_name, $name, $labelKey)
    {
        global $sugar_config;
        $db = DBManagerFactory::getInstance();
        $shared = $db->getOne(
            'SELECT COUNT(*) FROM fields_meta_data WHERE deleted = 0 AND custom_module = '
            . $db->quoted($module_name) . ' AND vname = ' . $db->quoted($labelKey)
            . ' AND id <> ' . $db->quoted($module_name . $name)
        );
        if ((int) $shared > 0) {
            return false;
        }
        $languages = array(self::LANGUAGE);
        if (!empty($sugar_config['default_language']) && is_string($sugar_config['default_language'])
            && preg_match('/^[A-Za-z_]{2,10}$/', $sugar_config['default_language'])) {
            $languages[] = $sugar_config['default_language'];
        }
        $removed = false;
        foreach (array_unique($languages) as $language) {
            $file = 'custom/Extension/modules/' . $module_name . '/Ext/Language/_override_'
                . $language . '.lang.php';
            if (!file_exists($file)) {
                continue;
            }
            $mod_strings = array();
            include $file;
            if (!array_key_exists($labelKey, $mod_strings)) {
                continue;
            }
            unset($mod_strings[$labelKey]);
            // The format ParserLabel::addLabels writes; an emptied file goes, as if never written.
            if (count($mod_strings) === 0) {
                unlink($file);
            } else {
                write_override_label_to_file('mod_strings', $mod_strings, $file);
            }
            sugar_cache_clear('module_language.' . $language . $module_name);
            LanguageManager::clearLanguageCache($module_name, $language);
            $removed = true;
        }
        return $removed;
    }

    /**
     * Delete the dropdown list bridgeWriteDropdown wrote (its file and its block in
     * custom/include/language; a list made in Studio has no bridge file and stays), unless
     * another custom field still uses the list; true when it was deleted.
     */
    private function bridgeRemoveDropdown($module_name, $name, $listName)
    {
        if (!preg_match('/^[A-Za-z0-9_]{1,100}$/', $listName)) {
            return false;
        }
        $file = 'custom/Extension/application/Ext/Language/' . self::LANGUAGE . '.bridge_'
            . $listName . '.php';
        $block = $this->bridgeHasCustomBlock($listName);
        if (!file_exists($file) && !$block) {
            return false;
        }
        $db = DBManagerFactory::getInstance();
        $shared = $db->getOne(
            'SELECT COUNT(*) FROM fields_meta_data WHERE deleted = 0 AND ext1 = '
            . $db->quoted($listName) . ' AND id <> ' . $db->quoted($module_name . $name)
            . " AND type IN ('enum', 'multienum', 'radioenum', 'dynamicenum')"
        );
        if ((int) $shared > 0) {
            return false;
        }
        if ($block) {
            $this->bridgeSaveCustomList($listName, null);
        }
        if (file_exists($file)) {
            unlink($file);
        }
        return true;
    }

    /** Whether custom/include/language holds the bridge's block for $listName. */
    private function bridgeHasCustomBlock($listName)
    {
        return file_exists(self::CUSTOM_LISTS) && strpos(
            (string) file_get_contents(self::CUSTOM_LISTS),
            '// sugar-bridge list ' . $listName . ' (bridge_ensure_custom_field)'
        ) !== false;
    }

    // ---------------------------------------------------------------------------------------
    // Role rights
    // ---------------------------------------------------------------------------------------

    /**
     * Set a role's access levels per module and action with ACLRole::setAction.
     *
     * @param string $session -- Session ID returned by a previous call to login (admin).
     * @param string $role_id -- ACLRoles id.
     * @param array $rights -- {module: {action: level}}, e.g. {"Accounts": {"edit": 75}}
     * @return array|null -- {role_id, changed, unchanged, unknown: ["Module.action", ...]}
     */
    public function bridge_set_role_actions($session, $role_id, $rights)
    {
        if (!$this->bridgeAuthorize($session)) {
            return null;
        }
        $role = $this->bridgeRole($role_id);
        if ($role === null) {
            return null;
        }
        if (!is_array($rights)) {
            $this->bridgeError('bridge_invalid_rights', 'rights must be an object');
            return null;
        }
        // Check everything first, so an invalid level changes nothing.
        foreach ($rights as $module => $actions) {
            if (!is_array($actions)) {
                $this->bridgeError('bridge_invalid_rights', "rights of $module must be an object");
                return null;
            }
            foreach ($actions as $action => $level) {
                if (!is_int($level) || !in_array($level, self::ACL_LEVELS, true)) {
                    $this->bridgeError(
                        'bridge_invalid_rights',
                        "$module.$action: level must be one of " . implode(', ', self::ACL_LEVELS)
                    );
                    return null;
                }
            }
        }

        $current = $role->getRoleActions($role->id);
        $changed = 0;
        $unchanged = 0;
        $unknown = array();
        foreach ($rights as $module => $actions) {
            foreach ($actions as $action => $level) {
                if (!isset($current[$module]['module'][$action]['id'])) {
                    $unknown[] = $module . '.' . $action;
                    continue;
                }
                $stored = $current[$module]['module'][$action];
                if ($this->bridgeRoleLevel($stored) === $level) {
                    $unchanged++;
                    continue;
                }
                $role->setAction($role->id, $stored['id'], $level);
                $changed++;
            }
        }
        return array(
            'role_id' => $role->id,
            'changed' => $changed,
            'unchanged' => $unchanged,
            'unknown' => $unknown,
        );
    }

    /**
     * A role's stored level for every module-type action (0 = not set, i.e. the default).
     *
     * @param string $session -- Session ID returned by a previous call to login (admin).
     * @param string $role_id -- ACLRoles id.
     * @return array|null -- {module: {action: level}}
     */
    public function bridge_get_role_actions($session, $role_id)
    {
        if (!$this->bridgeAuthorize($session)) {
            return null;
        }
        $role = $this->bridgeRole($role_id);
        if ($role === null) {
            return null;
        }
        $out = array();
        foreach ($role->getRoleActions($role->id) as $module => $types) {
            if (empty($types['module'])) {
                continue;
            }
            foreach ($types['module'] as $action => $stored) {
                $out[$module][$action] = $this->bridgeRoleLevel($stored);
            }
        }
        ksort($out);
        return $out;
    }

    /** The stored level of one action: acl_roles_actions.access_override, 0 when unset. */
    private function bridgeRoleLevel($stored)
    {
        // getRoleActions puts the override (or ACL_ALLOW_DEFAULT when none) into aclaccess.
        return isset($stored['aclaccess']) ? (int) $stored['aclaccess'] : 0;
    }

    /** The ACLRole bean, or null with error 1002. */
    private function bridgeRole($role_id)
    {
        if (is_string($role_id) && $role_id !== '' && preg_match('/^[A-Za-z0-9_.\-]{1,36}$/', $role_id)) {
            $role = BeanFactory::newBean('ACLRoles');
            if ($role->retrieve($role_id) !== null && !empty($role->id) && empty($role->deleted)) {
                return $role;
            }
        }
        $this->bridgeError('bridge_no_role', 'No ACL role has this id');
        return null;
    }

    // ---------------------------------------------------------------------------------------
    // bridge_save_records
    // ---------------------------------------------------------------------------------------

    /**
     * Save a batch of records through the bean API, one answer per record.
     *
     * Each record is an object of field => value. With an id of an existing record it updates
     * that record; with an id and new_with_id true it creates the record with that id, or
     * updates it when it already exists (so a retried call after a lost answer cannot duplicate
     * nor fail); with an id alone that matches no live record nothing is saved (error 1006:
     * set_entries would answer success and store nothing); without an id it creates one with a
     * new id. Values are set as set_entries sets them (an enum label becomes its key, sensitive
     * fields are skipped; not its Outlook-sync default reminder for calls and meetings, which
     * set_entry does not apply either), deleted = 1 marks the record deleted (Delete ACL), and the bean's
     * save() runs everything a save does: the Save ACL check, logic hooks, audit, date_modified,
     * custom fields, workflows. Except one: AOD's after-save hook, which would add each record to
     * the Lucene index under one server-wide lock, finds indexing disabled for the length of this
     * call, so the records are left for Sugar's scheduler job aodIndexUnindexed (it indexes every
     * record without an aod_indexevent as new as the record): the job must be scheduled (cron).
     * A record's failure does not stop the others.
     *
     * @param string $session -- Session ID returned by a previous call to login.
     * @param string $module_name -- Module key, e.g. Accounts.
     * @param array $records -- list of {field: value}, at most MAX_SAVE_RECORDS
     * @param array $select_fields -- fields to answer per saved record, read back from the
     *                                database after the save ([] = none)
     * @return array|null -- {module_name, aod_enabled, index_deferred, saved, failed, records:
     *                       [{id, created, saved, error, entry}]}; entry is what get_entries
     *                       answers for the record ({id, module_name, name_value_list}), or
     *                       null when nothing was saved or the user may not view it
     */
    public function bridge_save_records($session, $module_name, $records, $select_fields = array())
    {
        $error = new SoapError();
        if (!self::$helperObject->checkSessionAndModuleAccess(
            $session, 'invalid_session', $module_name, 'write', 'no_access', $error
        )) {
            return null;
        }
        if (in_array($module_name, self::SAVE_REFUSED_MODULES, true)) {
            $this->bridgeError(
                'bridge_invalid_records',
                "$module_name cannot be saved here: set_entries gives it extra semantics"
            );
            return null;
        }
        if (!is_array($records) || array_values($records) !== $records
            || count($records) > self::MAX_SAVE_RECORDS) {
            $this->bridgeError(
                'bridge_invalid_records',
                'records must be a list of at most ' . self::MAX_SAVE_RECORDS . ' objects'
            );
            return null;
        }
        if (!is_array($select_fields)) {
            $select_fields = array();
        }
        $select_fields = array_values(array_filter($select_fields, 'is_string'));

        global $sugar_config;
        $aod = $this->bridgeAodEnabled();
        // AOD_Index::index() returns early while this is off; the index job picks the records up.
        $previous = isset($sugar_config['aod']) && is_array($sugar_config['aod'])
            && array_key_exists('enable_aod', $sugar_config['aod'])
            ? array('set' => true, 'value' => $sugar_config['aod']['enable_aod'])
            : array('set' => false, 'value' => null);
        $sugar_config['aod']['enable_aod'] = false;
        $purifierCaches = $this->bridgeKeepPurifierDefinitions();
        $out = array();
        $saved = 0;
        try {
            foreach ($records as $record) {
                $answer = $this->bridgeSaveRecord($module_name, $record, $select_fields);
                $saved += $answer['saved'] ? 1 : 0;
                $out[] = $answer;
            }
        } finally {
            if ($purifierCaches !== null) {
                HTMLPurifier_DefinitionCacheFactory::instance($purifierCaches);
            }
            if ($previous['set']) {
                $sugar_config['aod']['enable_aod'] = $previous['value'];
            } else {
                unset($sugar_config['aod']['enable_aod']);
            }
        }
        return array(
            'module_name' => $module_name,
            'aod_enabled' => $aod,
            'index_deferred' => $aod,
            'saved' => $saved,
            'failed' => count($out) - $saved,
            'records' => $out,
        );
    }

    /**
     * Keep HTMLPurifier's definitions in memory for the rest of this request; returns the
     * definition cache factory to put back (null when this Sugar has no HTMLPurifier).
     *
     * Every save cleans each non-empty text field of the bean (SugarBean::cleanBean →
     * purify_html), and every purify_html builds a new SuiteCRM\HtmlSanitizer whose HTMLPurifier
     * config unserializes its definitions from cache/htmlclean/ again: measured on SuiteCRM
     * 7.15 (excimer, 200 Account updates), 39 % of a save's CPU went to that file read alone.
     * HTMLPurifier's own Memory decorator hands out the definition read first, under the same
     * key (the config's serial), so every value is cleaned by the same definitions as before;
     * only the repeated unserialize is gone. The factory is a process-wide singleton that keeps
     * the caches it made, hence a new one (set up as the default one is, plus Memory) for the
     * length of the call, and the previous one put back after.
     */
    private function bridgeKeepPurifierDefinitions()
    {
        if (!class_exists('HTMLPurifier_DefinitionCacheFactory')) {
            return null;
        }
        $previous = HTMLPurifier_DefinitionCacheFactory::instance();
        $factory = new HTMLPurifier_DefinitionCacheFactory();
        $factory->setup();
        $factory->addDecorator('Memory');
        HTMLPurifier_DefinitionCacheFactory::instance($factory);
        return $previous;
    }

    /** One record of bridge_save_records: {id, created, saved, error, entry}. */
    private function bridgeSaveRecord($module_name, $record, $select_fields)
    {
        global $app_list_strings;
        $answer = function ($id, $created, $errorKey, $detail = null, $bean = null) use ($module_name, $select_fields) {
            $error = null;
            if ($errorKey !== null) {
                list($number, $name, $description) = self::RECORD_ERRORS[$errorKey];
                $error = array(
                    'number' => $number,
                    'name' => $name,
                    'description' => $detail === null ? $description : $description . ': ' . $detail,
                );
            }
            return array(
                'id' => $id,
                'created' => $created,
                'saved' => $errorKey === null,
                'error' => $error,
                'entry' => $bean === null ? null : $this->bridgeStoredEntry($module_name, $bean->id, $select_fields),
            );
        };
        if (!is_array($record) || ($record !== array() && array_values($record) === $record)) {
            return $answer(null, false, 'invalid_record');
        }
        $id = isset($record['id']) ? $record['id'] : null;
        if ($id !== null && (!is_string($id) || !preg_match('/^[A-Za-z0-9_.\-]{1,36}$/', $id))) {
            return $answer(null, false, 'invalid_record', 'not an id');
        }
        $withId = !empty($record['new_with_id']) && $id !== null;
        unset($record['id'], $record['new_with_id']);

        $seed = BeanFactory::newBean($module_name);
        $seed->update_vcal = false;
        $created = true;
        if ($id !== null) {
            $found = $seed->retrieve($id);
            if ($found !== null && !empty($seed->id) && empty($seed->deleted)) {
                $created = false;
            } elseif (!$withId) {
                return $answer($id, false, 'not_found');
            } else {
                $seed = BeanFactory::newBean($module_name);
                $seed->update_vcal = false;
                $seed->id = $id;
                $seed->new_with_id = true;
            }
        }
        foreach ($record as $name => $value) {
            $name = (string) $name;
            $def = isset($seed->field_name_map[$name]) ? $seed->field_name_map[$name] : null;
            if ($def !== null && !empty($def['sensitive'])) {
                continue;
            }
            // What new_handle_set_entries does: an enum's label becomes its key.
            if ($def !== null && isset($def['type']) && $def['type'] === 'enum' && !empty($def['options'])
                && is_scalar($value) && isset($app_list_strings[$def['options']])
                && is_array($app_list_strings[$def['options']])
                && !array_key_exists((string) $value, $app_list_strings[$def['options']])) {
                $key = array_search($value, $app_list_strings[$def['options']], true);
                if ($key !== false) {
                    $value = $key;
                }
            }
            $seed->$name = $value;
        }
        $deleting = isset($seed->deleted) && (string) $seed->deleted === '1';
        if (!$seed->ACLAccess('Save') || ($deleting && !$seed->ACLAccess('Delete'))) {
            return $answer($id, false, 'no_access');
        }
        try {
            $seed->save();
            if ($deleting) {
                $seed->mark_deleted($seed->id);
            }
        } catch (Throwable $e) {
            $GLOBALS['log']->error("sugar-bridge: saving $module_name {$seed->id} failed: " . $e->getMessage());
            return $answer($seed->id, false, 'save_failed', $e->getMessage());
        }
        return $answer($seed->id, $created, null, null, $deleting ? null : $seed);
    }

    // ---------------------------------------------------------------------------------------
    // bridge_get_related_ids
    // ---------------------------------------------------------------------------------------

    /** Ids per IN (...) when bridge_get_related_ids keeps the live related records. */
    const RELATED_IDS_CHUNK = 1000;

    /**
     * The ids of the live records related to one record over a link, all in one answer: the
     * ids get_relationships lists, without building a bean per related record (get_relationships
     * on ProspectLists.accounts cost ~4 ms per member on SuiteCRM 7.15, 40 s for a 10,000-member
     * list). The link's own query (Link2::get, the relationship rows not deleted), then only the
     * related records not deleted (one SELECT id per RELATED_IDS_CHUNK ids), in id order. A
     * record that does not exist or is deleted, or a link it has not, answers no ids, as
     * get_relationships answers an empty list. Admin session (an admin sees every record).
     *
     * @param string $session -- Session ID returned by a previous call to login (admin).
     * @param string $module_name -- Module key, e.g. ProspectLists.
     * @param string $module_id -- The record's id.
     * @param string $link_field_name -- The link (case-sensitive), e.g. accounts.
     * @return array|null -- {ids: [id, ...]}
     */
    public function bridge_get_related_ids($session, $module_name, $module_id, $link_field_name)
    {
        if (!$this->bridgeAuthorize($session, $module_name)) {
            return null;
        }
        $none = array('ids' => array());
        $bean = BeanFactory::newBean($module_name);
        if (empty($bean) || !is_string($module_id) || !is_string($link_field_name)
            || $bean->retrieve($module_id) === null || !empty($bean->deleted)
            || !$bean->load_relationship($link_field_name)) {
            return $none;
        }
        $link = $bean->$link_field_name;
        $related = BeanFactory::newBean($link->getRelatedModuleName());
        if (empty($related) || empty($related->table_name)) {
            return $none;
        }
        $linked = array_values(array_unique(array_map('strval', $link->get())));
        $db = DBManagerFactory::getInstance();
        $ids = array();
        foreach (array_chunk($linked, self::RELATED_IDS_CHUNK) as $chunk) {
            $in = implode(',', array_map(array($db, 'quoted'), $chunk));
            $result = $db->query("SELECT id FROM {$related->table_name} WHERE deleted = 0 AND id IN ($in)");
            while ($row = $db->fetchByAssoc($result, false)) {
                $ids[] = (string) $row['id'];
            }
        }
        sort($ids, SORT_STRING);
        return array('ids' => $ids);
    }

    // ---------------------------------------------------------------------------------------
    // bridge_read_changed
    // ---------------------------------------------------------------------------------------

    /** Records bridge_read_changed answers at most in one call. */
    const MAX_READ_RECORDS = 2000;

    /**
     * Stored ids bridge_read_changed answers only while the record they name is live, as the
     * bean's fill_in_additional_detail_fields clears them: module => [field, table, whether the
     * record itself must be live too].
     */
    const LIVE_IDS = array(
        'Cases' => array('account_id', 'accounts', true),
        'Tasks' => array('contact_id', 'contacts', false),
    );

    /**
     * Non-stored ids bridge_read_changed fills from a many-to-many link as the bean's
     * fill_in_additional_detail_fields does: module => field => [link, value when none (null:
     * not answered)].
     */
    const LINK_FILLED = array(
        'Contacts' => array('account_id' => array('accounts', null)),
        'Opportunities' => array('account_id' => array('accounts', '')),
    );

    /**
     * A page of the records of a module after a position in (date_modified, id) order, deleted
     * ones included: what get_entry_list answers for the query "date_modified > since OR
     * (date_modified = since AND id > after_id)", order_by "date_modified, id", deleted=1,
     * without what costs it most. get_entry_list builds a bean per row, reads each one's email
     * addresses, fills its additional detail fields (a contact's account, one query per record)
     * and counts the whole result on every page: on SuiteCRM 7.15, 0.3-2.5 s per 500 records.
     * Here the module's own list query (SugarBean::create_new_list_query: the same visibility
     * and security group rules, buildAccessWhere('list')) is run once per page without its
     * count, and the non-stored fields the extraction reads are filled set-based, one query per
     * page each, as the beans fill them:
     *
     * - the fields stored in the module's table or its _cstm table: the stored value, HTML-encoded
     *   as fetchByAssoc encodes it ('' for NULL, a date cut to Y-m-d), what get_entry_list answers;
     * - email1: the bean's primary address (SugarEmailAddress::populateLegacyFields: the first
     *   primary one in (reply_to_address, primary_address DESC) order, else the first one);
     * - the account id the bean fills from its many-to-many link (Contacts, Opportunities:
     *   LINK_FILLED): the live account of the newest live relationship row (Contact::
     *   fill_in_additional_detail_fields' ORDER BY a_c.date_modified DESC), else what the
     *   bean leaves: nothing for a contact (account_id NULL, not answered), '' for an
     *   opportunity;
     * - a lead's account_name: with an account_id, that account's name (deleted or not), or
     *   nothing when no account has that id (Lead::get_account), else the stored text;
     * - a stored id the bean clears when the record it names is gone (LIVE_IDS): a case's
     *   account_id while the case and that account are live (aCase::getAccount), a task's
     *   contact_id while that contact is live (Task::fill_in_additional_detail_fields), else '';
     * - any other non-stored field is not answered: get_entry_list answers what the bean
     *   computes, module by module, or the list query's blank placeholder of a relate field
     *   over a many-to-many link (Calls.contact_id: 36 spaces).
     *
     * @param string $session -- Session ID returned by a previous call to login.
     * @param string $module_name -- Module key, e.g. Accounts.
     * @param string $since -- "" (from the start) or a date_modified (Y-m-d H:i:s, UTC).
     * @param string $after_id -- "" (date_modified >= since) or the id of the last record read.
     * @param int $max_results -- records per page, 1 to MAX_READ_RECORDS.
     * @param array $select_fields -- fields to answer (id and date_modified always).
     * @return array|null -- {result_count, entry_list: [{id, module_name, name_value_list}]}
     */
    public function bridge_read_changed($session, $module_name, $since, $after_id, $max_results, $select_fields = array())
    {
        $error = new SoapError();
        if (!self::$helperObject->checkSessionAndModuleAccess(
            $session, 'invalid_session', $module_name, 'read', 'no_access', $error
        )) {
            return null;
        }
        $seed = BeanFactory::newBean($module_name);
        if (empty($seed) || empty($seed->table_name)) {
            $this->bridgeError('no_module');
            return null;
        }
        if (!self::$helperObject->checkACLAccess($seed, 'list', $error, 'no_access')) {
            return null;
        }
        $since = is_string($since) ? $since : '';
        $after_id = is_string($after_id) ? $after_id : '';
        $limit = is_numeric($max_results) ? (int) $max_results : 0;
        if (($since !== '' && !preg_match('/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/', $since))
            || strlen($after_id) > 36 || $limit < 1 || $limit > self::MAX_READ_RECORDS) {
            $this->bridgeError('bridge_invalid_position');
            return null;
        }
        $asked = is_array($select_fields) ? array_values(array_filter($select_fields, 'is_string')) : array();
        foreach (array('id', 'date_modified') as $always) {
            if (!in_array($always, $asked, true)) {
                $asked[] = $always;
            }
        }
        $stored = array();
        $linked = array();
        $email = false;
        foreach (self::$helperObject->filter_fields($seed, $asked) as $field) {
            if (!isset($seed->field_defs[$field])) {
                continue;
            }
            $def = $seed->field_defs[$field];
            $source = isset($def['source']) ? $def['source'] : 'db';
            if ($source === 'db' || $source === 'custom_fields') {
                $stored[$field] = $def;
            } elseif ($field === 'email1') {
                $email = true;
            } elseif (isset(self::LINK_FILLED[$module_name][$field])
                && ($join = $this->bridgeLinkJoin($seed, self::LINK_FILLED[$module_name][$field][0])) !== null) {
                $linked[$field] = $join;
            }
        }
        // Lead::get_account: the account's name replaces the stored account_name
        $accountNames = $module_name === 'Leads' && isset($stored['account_name'], $seed->field_defs['account_id']);
        $columns = array_keys($stored);
        if ($accountNames && !isset($stored['account_id'])) {
            $columns[] = 'account_id';
        }
        $liveId = isset(self::LIVE_IDS[$module_name], $stored[self::LIVE_IDS[$module_name][0]])
            ? self::LIVE_IDS[$module_name] : null;
        if ($liveId !== null && !isset($stored['deleted'])) {
            $columns[] = 'deleted';
        }
        $db = DBManagerFactory::getInstance();
        $table = $seed->table_name;
        $where = '';
        if ($since !== '') {
            $at = $db->quoted($since);
            $where = $after_id === ''
                ? "$table.date_modified >= $at"
                : "($table.date_modified > $at OR ($table.date_modified = $at AND $table.id > "
                    . $db->quoted($after_id) . '))';
        }
        // show_deleted -1: live and deleted rows, as get_entry_list's deleted=1. Bare names in
        // order_by: process_order_by drops table-qualified terms (it adds the table itself).
        $query = $seed->create_new_list_query(
            'date_modified ASC, id ASC', $where, array_fill_keys($columns, true), array(), -1
        );
        $result = $db->limitQuery($query, 0, $limit, true, "bridge_read_changed $module_name");
        $rows = array();
        while ($row = $db->fetchByAssoc($result)) {
            $rows[] = $row;
        }
        $ids = array_map(function ($row) {
            return (string) $row['id'];
        }, $rows);
        $filled = array();
        if ($email) {
            $filled['email1'] = $this->bridgePrimaryEmails($seed, $ids);
        }
        foreach ($linked as $field => $join) {
            $filled[$field] = $this->bridgeLinkedIds($join, $ids);
        }
        $names = $accountNames ? $this->bridgeNamesOf($db, 'accounts', $rows, 'account_id', false) : array();
        $live = $liveId !== null ? $this->bridgeNamesOf($db, $liveId[1], $rows, $liveId[0], true) : array();
        $entries = array();
        foreach ($rows as $row) {
            $id = (string) $row['id'];
            $list = array();
            foreach ($asked as $field) {
                if ($accountNames && $field === 'account_name' && !empty($row['account_id'])) {
                    if (!isset($names[$row['account_id']])) {
                        continue;
                    }
                    $value = $names[$row['account_id']];
                } elseif ($liveId !== null && $field === $liveId[0]) {
                    $value = !empty($row[$field]) && isset($live[$row[$field]])
                        && (!$liveId[2] || empty($row['deleted'])) ? $row[$field] : '';
                } elseif (isset($stored[$field])) {
                    $value = isset($row[$field]) ? $row[$field] : '';
                    if (isset($stored[$field]['type']) && $stored[$field]['type'] === 'date') {
                        $value = substr((string) $value, 0, 10);
                    }
                } elseif (isset($filled[$field][$id])) {
                    $value = $filled[$field][$id];
                } elseif (isset($linked[$field])) {
                    $value = self::LINK_FILLED[$module_name][$field][1];
                    if ($value === null) {
                        continue;
                    }
                } elseif ($field === 'email1') {
                    $value = '';
                } else {
                    continue;
                }
                $list[$field] = self::$helperObject->get_name_value($field, $value);
            }
            $entries[] = array('id' => $id, 'module_name' => $module_name, 'name_value_list' => $list);
        }
        return array('result_count' => count($entries), 'entry_list' => $entries);
    }

    /**
     * The join table of a many-to-many link of the module: {table, ours, theirs, related};
     * null when the link is not one.
     */
    private function bridgeLinkJoin($seed, $link)
    {
        if ($link === null || !$seed->load_relationship($link)) {
            return null;
        }
        $relationship = $seed->$link->getRelationshipObject();
        if (!($relationship instanceof M2MRelationship) || empty($relationship->def['join_table'])) {
            return null;
        }
        $rel = $relationship->def;
        $related = BeanFactory::newBean($seed->$link->getRelatedModuleName());
        if (empty($related) || empty($related->table_name)) {
            return null;
        }
        $lhs = $rel['lhs_module'] === $seed->module_dir && $rel['rhs_module'] !== $seed->module_dir;
        return array(
            'table' => $rel['join_table'],
            'ours' => $lhs ? $rel['join_key_lhs'] : $rel['join_key_rhs'],
            'theirs' => $lhs ? $rel['join_key_rhs'] : $rel['join_key_lhs'],
            'related' => $related->table_name,
        );
    }

    /** id => name of the records of $table the rows name in $field (only live ones: $live). */
    private function bridgeNamesOf($db, $table, $rows, $field, $live)
    {
        $ids = array_values(array_unique(array_filter(array_map(function ($row) use ($field) {
            return isset($row[$field]) ? (string) $row[$field] : '';
        }, $rows), 'strlen')));
        $out = array();
        if (count($ids) === 0) {
            return $out;
        }
        $in = implode(',', array_map(array($db, 'quoted'), $ids));
        $name = $table === 'contacts' ? 'last_name' : 'name';
        $result = $db->query(
            "SELECT id, $name name FROM $table WHERE id IN ($in)" . ($live ? ' AND deleted = 0' : '')
        );
        while ($row = $db->fetchByAssoc($result)) {
            $out[$row['id']] = $row['name'];
        }
        return $out;
    }

    /** Per id: the related live record of its newest live relationship row. */
    private function bridgeLinkedIds($join, $ids)
    {
        $out = array();
        if (count($ids) === 0) {
            return $out;
        }
        $db = DBManagerFactory::getInstance();
        $in = implode(',', array_map(array($db, 'quoted'), $ids));
        $result = $db->query(
            "SELECT r.{$join['ours']} ours, t.id theirs FROM {$join['table']} r"
            . " JOIN {$join['related']} t ON t.id = r.{$join['theirs']} AND t.deleted = 0"
            . " WHERE r.deleted = 0 AND r.{$join['ours']} IN ($in) ORDER BY r.date_modified DESC"
        );
        while ($row = $db->fetchByAssoc($result)) {
            if (!isset($out[$row['ours']])) {
                $out[$row['ours']] = $row['theirs'];
            }
        }
        return $out;
    }

    /** Per id: email1 as SugarEmailAddress::populateLegacyFields sets it. */
    private function bridgePrimaryEmails($seed, $ids)
    {
        $out = array();
        if (count($ids) === 0 || !isset($seed->emailAddress)) {
            return $out;
        }
        $db = DBManagerFactory::getInstance();
        $in = implode(',', array_map(array($db, 'quoted'), $ids));
        $module = $db->quoted($seed->emailAddress->getCorrectedModule($seed->module_dir));
        // getAddressesByGUID's rows; the first primary one, else the first one
        $result = $db->query(
            'SELECT ear.bean_id, ea.email_address FROM email_addresses ea'
            . ' LEFT JOIN email_addr_bean_rel ear ON ea.id = ear.email_address_id'
            . " WHERE ear.bean_module = $module AND ear.bean_id IN ($in) AND ear.deleted = 0"
            . ' ORDER BY ear.primary_address DESC, ear.reply_to_address'
        );
        while ($row = $db->fetchByAssoc($result)) {
            if (!isset($out[$row['bean_id']])) {
                $out[$row['bean_id']] = $row['email_address'];
            }
        }
        return $out;
    }

    /**
     * The record as get_entries answers it, read afresh from the database (what was stored, not
     * what the bean in memory holds); null without fields asked, or without DetailView access.
     */
    private function bridgeStoredEntry($module_name, $id, $select_fields)
    {
        if (count($select_fields) === 0) {
            return null;
        }
        $fresh = BeanFactory::newBean($module_name);
        if ($fresh->retrieve($id) === null || !empty($fresh->deleted) || !$fresh->ACLAccess('DetailView')) {
            return null;
        }
        return self::$helperObject->get_return_value_for_fields($fresh, $module_name, $select_fields);
    }

    // ---------------------------------------------------------------------------------------
    // Shared
    // ---------------------------------------------------------------------------------------

    /**
     * A valid admin session (else errors 11 / 40) and, when given, an existing module (else 20).
     */
    private function bridgeAuthorize($session, $module_name = null)
    {
        $error = new SoapError();
        if (!self::$helperObject->checkSessionAndModuleAccess($session, 'invalid_session', '', '', '', $error)) {
            return false;
        }
        global $current_user, $beanList;
        if (empty($current_user) || !is_admin($current_user)) {
            $this->bridgeError('no_access');
            return false;
        }
        if ($module_name !== null && (!is_string($module_name) || empty($beanList[$module_name]))) {
            $this->bridgeError('no_module');
            return false;
        }
        return true;
    }

    /** Answer with Sugar's {name, number, description} error object. */
    private function bridgeError($key, $description = null)
    {
        global $error_defs;
        if (isset(self::ERRORS[$key]) && !isset($error_defs[$key])) {
            $error_defs[$key] = self::ERRORS[$key];
        }
        $error = new SoapError();
        $error->set_error($key);
        if ($description !== null && isset(self::ERRORS[$key])) {
            $error->description = $description;
        }
        $GLOBALS['log']->error("sugar-bridge: {$error->number} {$error->name}: {$error->description}");
        self::$helperObject->setFaultObject($error);
    }
}
