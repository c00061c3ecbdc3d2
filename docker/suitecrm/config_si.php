<?php
/*
 * Prints the config_si.php of SuiteCRM's silent installer, from environment variables:
 *
 *   SUITECRM_SITE_URL=... SUITECRM_DATABASE_HOST=... php config_si.php > <sugar root>/config_si.php
 *
 * One template for both installs: the image's first start (docker/suitecrm/entrypoint.sh) and
 * CI's SuiteCRM on the machine (.ci/suitecrm.sh). Values go through var_export, so a password
 * with a quote or a backslash cannot break the file. The database and its user must exist
 * (setup_db_create_database = 0), as MariaDB's init script / .ci/suitecrm.sh make them.
 */
if (PHP_SAPI !== 'cli') {
    exit(1);
}

function setting(string $name, ?string $default = null): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        if ($default === null) {
            fwrite(STDERR, "config_si.php: $name is not set\n");
            exit(2);
        }
        return $default;
    }
    return $value;
}

$db_user = setting('SUITECRM_DATABASE_USER');
$db_password = setting('SUITECRM_DATABASE_PASSWORD');
$sugar_config_si = array(
    'setup_site_url' => setting('SUITECRM_SITE_URL'),
    'setup_system_name' => setting('SUITECRM_SYSTEM_NAME', 'SuiteCRM'),
    'setup_db_host_name' => setting('SUITECRM_DATABASE_HOST'),
    'setup_db_port_num' => setting('SUITECRM_DATABASE_PORT', '3306'),
    'setup_db_database_name' => setting('SUITECRM_DATABASE_NAME', 'suitecrm'),
    'setup_db_type' => 'mysql',
    'setup_db_admin_user_name' => $db_user,
    'setup_db_admin_password' => $db_password,
    'setup_db_sugarsales_user' => $db_user,
    'setup_db_sugarsales_password' => $db_password,
    'setup_db_create_database' => 0,
    'setup_db_create_sugarsales_user' => 0,
    'setup_db_drop_tables' => 0,
    'setup_site_admin_user_name' => setting('SUITECRM_USERNAME', 'admin'),
    'setup_site_admin_password' => setting('SUITECRM_PASSWORD'),
    'demoData' => 'no',
    'default_language' => 'en_us',
    'default_currency_iso4217' => 'USD',
    'default_currency_name' => 'US Dollars',
    'default_currency_symbol' => '$',
    'default_currency_significant_digits' => '2',
    'default_date_format' => 'Y-m-d',
    'default_time_format' => 'H:i',
    'default_decimal_seperator' => '.',
    'default_number_grouping_seperator' => ',',
    'default_export_charset' => 'UTF-8',
    'default_locale_name_format' => 's f l',
    'export_delimiter' => ',',
    'setup_license_accept' => true,
);

echo "<?php\n\$sugar_config_si = " . var_export($sugar_config_si, true) . ";\n";
