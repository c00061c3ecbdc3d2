<?php
/*
 * The SuiteCRM container's health check: healthy when an admin can log in through the REST API
 * v4_1 (service/v4_1/rest.php: Apache, PHP, the database and Sugar's users all answer) and the
 * sugar-bridge server extension answers bridge_info with that session
 * (custom/service/bridge/rest.php). Logs out after, so that checks leave no sessions behind.
 * Exit 0 healthy, 1 not (the reason on stdout, which `podman/docker inspect` shows).
 */
if (PHP_SAPI !== 'cli') {
    exit(1);
}

$base = 'http://127.0.0.1';
$user = getenv('SUITECRM_USERNAME') ?: 'admin';
$password = getenv('SUITECRM_PASSWORD') ?: '';

function call(string $url, string $method, array $data, bool $answer_expected = true)
{
    $body = http_build_query(array(
        'method' => $method,
        'input_type' => 'JSON',
        'response_type' => 'JSON',
        'rest_data' => json_encode($data),
    ));
    $context = stream_context_create(array('http' => array(
        'method' => 'POST',
        'header' => "Content-Type: application/x-www-form-urlencoded\r\n",
        'content' => $body,
        'timeout' => 20,
        'ignore_errors' => true,
    )));
    $answer = @file_get_contents($url, false, $context);
    if ($answer === false) {
        echo "$method: no answer from $url\n";
        exit(1);
    }
    $decoded = json_decode($answer, true);
    if (!$answer_expected) {
        return $decoded;
    }
    if (!is_array($decoded)) {
        echo "$method: not JSON: " . substr($answer, 0, 200) . "\n";
        exit(1);
    }
    if (isset($decoded['number'], $decoded['name'])) {
        echo "$method: Sugar error {$decoded['number']} {$decoded['name']}\n";
        exit(1);
    }
    return $decoded;
}

$v4 = "$base/service/v4_1/rest.php";
$login = call($v4, 'login', array(
    'user_auth' => array('user_name' => $user, 'password' => md5($password)),
    'application_name' => 'healthcheck',
    'name_value_list' => array(),
));
if (empty($login['id'])) {
    echo "login: no session id\n";
    exit(1);
}
$info = call("$base/custom/service/bridge/rest.php", 'bridge_info', array('session' => $login['id']));
call($v4, 'logout', array('session' => $login['id']), false);  // answers null
if (empty($info['extension_version'])) {
    echo "bridge_info: no extension_version in " . json_encode($info) . "\n";
    exit(1);
}
echo "v4_1 login ok; bridge extension {$info['extension_version']}\n";
